"""The sandboxed student process, seen from the trusted judge (batch grading and Gradescope).

`Sandbox(submission, ...)` starts grader/child.py on the submission under bubblewrap:
  * new mount, pid, network, IPC and UTS namespaces (and a user namespace when not root),
    --die-with-parent, --new-session; as root, a uid of its own per worker (setpriv inside);
  * a read-only view of just the interpreter, site-packages, the submission's code and the
    question modules of the grader (never the tests, the kit, the venv's folder, other students);
  * private size-limited tmpfs for /tmp (the working directory) and /dev/shm;
  * a cgroup per submission with memory.max and pids.max where the machine allows it (else
    RLIMIT_DATA per process and RLIMIT_NPROC per uid); killed by cgroup and pid namespace.
`ask(question, inputs)` sends one request and waits for its answer within the per-question
timeout and the submission's single deadline; a child that dies, hangs or garbles the stream is
killed and the next question gets a fresh one. Where bubblewrap is refused, `kind="basic"` keeps
today's weaker measures; `protections` says which were on, for every result.
"""
from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.codec import MAX_FRAME_BYTES, CodecError, decode, dumps, encode, loads, plain
from grader.probe import cpu_and_wait, starved
from grader.roles import SANDBOX_GRADER

KIT = Path(__file__).resolve().parent.parent
UID_BASE = 64000                       # as root, student code runs as a uid of UID_BASE..+UID_COUNT-1,
UID_COUNT = 1000                       # held with a lock for the sandbox's life (gradings side by side never share one)
UID_LOCKS = Path("/run/gan-kit-uids") if Path("/run").is_dir() else Path("/tmp/gan-kit-uids")
CHILD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp", "OMP_NUM_THREADS": "1",
             "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1",
             "PYTHONHASHSEED": "0"}


def own_user_namespace(uid: int) -> list[str]:
    """The command prefix that runs the rest in a new user namespace, `uid` mapped to itself."""
    return ["/usr/bin/unshare", "--user", f"--map-user={uid}", f"--map-group={uid}", "--"]


CPU_SHARE = 0.5        # a question that ran out of time costs the student if its code computed this share of it
STARVED_RETRY = 3.0    # the ceiling of a question asked again after its process mostly waited for a CPU


class _OutOfTime(Exception):
    """A question's time ran out (judged by Sandbox.ask on what the process did with it)."""


class SandboxError(RuntimeError):
    """The grader could not run the student's process (a grader error, never a student's fault)."""


class AnswerError(RuntimeError):
    """The student's process raised, died, hung or answered garbage for this question."""


@dataclass
class Limits:
    deadline: float = 300.0        # seconds for the whole submission, restarts included
    question: float = 60.0         # seconds for one question
    memory_mb: int = 4096          # all processes of the submission together (cgroup) or each (rlimit)
    pids: int = 128                # processes and threads of the submission
    tmp_mb: int = 256              # /tmp
    shm_mb: int = 64               # /dev/shm


@dataclass
class Config:
    kind: str = "bwrap"            # 'bwrap' or 'basic'
    worker: int = 0
    limits: Limits = field(default_factory=Limits)
    python: str | None = None      # another interpreter for the student process (the kit's tests)


def python_paths() -> tuple[Path, Path, Path]:
    """(venv or prefix folder, base prefix, interpreter path inside the sandbox)."""
    prefix, base = Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()
    if prefix != base:                                      # a venv: shown as /venv, wherever it lives
        return prefix, base, Path("/venv/bin") / Path(sys.executable).name
    return prefix, base, Path(sys.executable)


def bwrap_available() -> str | None:
    """None when bubblewrap can run here, else why not."""
    tool = shutil.which("bwrap")
    if not tool:
        return "bubblewrap is not installed (apt-get install bubblewrap; `make setup` does it)"
    command = [tool, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid", "--unshare-net", "--"]
    if os.geteuid() == 0:               # the sandbox makes its user namespace as its unprivileged uid
        command += ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                    *own_user_namespace(65534), "true"]
    else:
        command[1:1] = ["--unshare-user"]
        command.append("true")
    probe = subprocess.run(command, capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"bubblewrap cannot create namespaces (a user namespace, as an unprivileged uid) here: "
                f"{probe.stderr.strip()[:200]} (allow them: sysctl kernel.unprivileged_userns_clone=1, "
                f"user.max_user_namespaces > 0)")
    return None


# ----------------------------------------------------------------------------- cgroups
def _own_cgroup(controller: str) -> Path | None:
    """This process's cgroup folder for `controller` (v1) or the unified one (v2), if writable."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = Path("/sys/fs/cgroup") / controller / path.lstrip("/")
            if folder.is_dir() and os.access(folder, os.W_OK):
                return folder
    unified = Path("/sys/fs/cgroup")
    own = next((l.split(":", 2)[2] for l in lines if l.startswith("0::")), None)
    if own is not None and (unified / "cgroup.controllers").is_file():
        folder = unified / own.lstrip("/")
        enabled = folder / "cgroup.subtree_control"
        if enabled.is_file() and controller in enabled.read_text().split() and os.access(folder, os.W_OK):
            return folder
    return None


def remove_cgroups(prefix: str) -> None:
    """Kill and remove every cgroup of ours whose name starts with `prefix` (after a judge died)."""
    for controller in ("memory", "pids", "cpu"):
        parent = _own_cgroup(controller)
        for folder in parent.glob(prefix + "*") if parent else ():
            leftover = Cgroups.__new__(Cgroups)
            leftover.folders, leftover.what = [folder], [controller]
            leftover.close()


class Cgroups:
    """A memory and a pids cgroup for one submission; empty when the machine does not allow them."""

    def __init__(self, name: str, limits: Limits):
        self.folders: list[Path] = []
        self.what: list[str] = []
        settings = {"memory": [("memory.max", limits.memory_mb << 20), ("memory.limit_in_bytes", limits.memory_mb << 20),
                               ("memory.swap.max", 0), ("memory.memsw.limit_in_bytes", limits.memory_mb << 20)],
                    "pids": [("pids.max", limits.pids)],
                    # a CPU group of its own at the default weight: a submission's 100 busy threads share one
                    # group's share of the machine, beside its neighbours' groups and the judges
                    "cpu": [("cpu.weight", 100), ("cpu.shares", 1024)]}
        for controller, values in settings.items():
            parent = _own_cgroup(controller)
            if parent is None:
                continue
            folder = parent / name
            try:
                folder.mkdir(exist_ok=True)
                wrote = False
                for key, value in values:
                    if (folder / key).exists():
                        try:
                            (folder / key).write_text(str(value))
                            wrote = True
                        except OSError:
                            pass
                if wrote:
                    self.folders.append(folder)
                    self.what.append(controller)
                else:
                    folder.rmdir()
            except OSError:
                continue

    def enter(self) -> None:
        """In the child before exec: join every cgroup."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def kill(self) -> None:
        for folder in self.folders:
            if (folder / "cgroup.kill").exists():
                try:
                    (folder / "cgroup.kill").write_text("1")
                except OSError:
                    pass
            for _ in range(50):
                try:
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except OSError:
                    pids = []
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.02)

    def close(self) -> None:
        self.kill()
        for folder in self.folders:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)

    def oom_killed(self) -> bool:
        for folder in self.folders:
            for name in ("memory.events", "memory.failcnt"):
                path = folder / name
                if path.is_file():
                    text = path.read_text()
                    if name == "memory.failcnt" and text.strip() not in ("", "0"):
                        return True
                    if name == "memory.events" and any(l.split()[0] == "oom_kill" and l.split()[1] != "0"
                                                       for l in text.splitlines() if l.strip()):
                        return True
        return False


# ----------------------------------------------------------------------------- the sandbox
class Sandbox:
    """The student's process for one submission; `ask` answers one question at a time."""

    def __init__(self, submission: Path, config: Config | None = None):
        self.submission = Path(submission).resolve()
        self.config = config or Config()
        self.limits = self.config.limits
        self.grader_code = self._grader_code()
        self.charged = 0.0                           # seconds of the deadline the student's code has used
        self.asked_again: list[str] = []                 # questions asked again because the machine withheld the CPU
        self.proc: subprocess.Popen | None = None
        self.cgroups: Cgroups | None = None
        self.starts = 0
        self.buffer = b""
        self.importing: str | None = None
        self.fatal_imports: dict[str, str] = {}     # module -> why importing it kills the process
        self._uid_lock: int | None = None
        self.uid = self._claim_uid() if os.geteuid() == 0 else os.geteuid()
        if self.config.kind == "bwrap":
            problem = bwrap_available()
            if problem:
                raise SandboxError(problem)

    def _claim_uid(self) -> int:
        """A worker uid no other sandbox on this machine holds (a lock file per uid, held while we
        live), so two gradings side by side never run, or kill, each other's student processes."""
        UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
        start = self.config.worker % UID_COUNT
        for i in range(UID_COUNT):
            uid = UID_BASE + (start + i) % UID_COUNT
            fd = os.open(UID_LOCKS / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._uid_lock = fd
            kill_uid(uid)                  # a crashed grading's leftovers (the lock proves nobody owns them)
            return uid
        raise SandboxError(f"all {UID_COUNT} sandbox uids are held by other gradings on this machine")

    def _grader_code(self) -> Path:
        """A folder holding just the grader modules the student process may see."""
        import tempfile
        folder = Path(tempfile.mkdtemp(prefix="grader-questions-"))
        (folder / "grader").mkdir()
        for name in SANDBOX_GRADER:
            shutil.copy2(KIT / "grader" / name, folder / "grader" / name)
        os.chmod(folder, 0o755)
        self._own_code = folder
        return folder

    # -- what protects the grader
    @property
    def protections(self) -> str:
        limits = self.limits
        kinds = [c for c in ("memory", "pids", "cpu") if _own_cgroup(c) is not None]
        caps = f"cgroup {'+'.join(kinds)} limits" if kinds else "per-process rlimits (no cgroup allowed here)"
        if "cpu" in kinds:
            caps += " (a CPU share of its own)"
        if self.config.kind == "bwrap":
            who = (f"uid {self.uid} of its own (held by this grading only) in a user namespace of its own"
                   if os.geteuid() == 0 else "a user namespace of its own")
            return (f"bubblewrap: mount/pid/network/IPC/user namespaces (own kernel keyrings), read-only view of the interpreter and "
                    f"the submission only, private /tmp ({limits.tmp_mb} MB) and /dev/shm ({limits.shm_mb} MB), "
                    f"{who}; {caps}: memory {limits.memory_mb} MB, {limits.pids} processes; "
                    f"{limits.question:g} s a question, {limits.deadline:g} s a submission (the code's own time: "
                    f"time spent waiting for a CPU is not counted)")
        return (f"BASIC (bubblewrap not used): own session and process group, {caps}: memory "
                f"{limits.memory_mb} MB, {limits.pids} processes; no file-system or network isolation; "
                f"{limits.question:g} s a question, {limits.deadline:g} s a submission")

    def _command(self) -> tuple[list[str], Path]:
        prefix, base, python = python_paths()
        if self.config.kind != "bwrap":         # no mounts: the interpreter where it really is
            python = Path(self.config.python or sys.executable)
            return [str(python), "-I", str(self.grader_code / "grader" / "child.py"), str(self.grader_code),
                    str(self.submission)], Path(self._scratch())
        python = Path(self.config.python) if self.config.python else python
        child = ["-I", "/grader/grader/child.py", "/grader", "/submission"]
        limits = self.limits
        cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
               "--unshare-uts", "--unshare-cgroup-try", "--clearenv"]
        for key, value in CHILD_ENV.items():
            cmd += ["--setenv", key, value]
        for top in ("usr", "lib", "lib64", "lib32", "bin", "sbin"):
            path = Path("/") / top
            if path.is_symlink():
                cmd += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                cmd += ["--ro-bind", str(path), str(path)]
        for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf"):
            if Path(etc).exists():
                cmd += ["--ro-bind", etc, etc]
        if not str(base).startswith("/usr/"):
            # the folders above the interpreter exist in the sandbox only to reach it: traversable
            # whatever their modes are outside (/root is 0700 where Python lives in root's home)
            for folder in reversed(base.parents[:-1]):
                cmd += ["--perms", "0755", "--dir", str(folder)]
            cmd += ["--ro-bind", str(base), str(base)]
        if prefix != base:
            cmd += ["--ro-bind", str(prefix), "/venv"]
        cmd += ["--ro-bind", str(self.grader_code), "/grader", "--ro-bind", str(self.submission), "/submission",
                "--proc", "/proc", "--dev", "/dev",
                "--perms", "01777", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp",
                "--perms", "01777", "--size", str(limits.shm_mb << 20), "--tmpfs", "/dev/shm", "--chdir", "/tmp"]
        # A user namespace per sandbox, as root too: kernel keyrings (and whatever else the kernel keys
        # by uid within a namespace) die with it, so one submission cannot leave a message for the next.
        # As root, bwrap makes the mounts, setpriv drops to the sandbox's own uid, then unshare makes
        # the user namespace (mapping that uid to itself).
        if os.geteuid() == 0:
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "/usr/bin/setpriv",
                    f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs",
                    "--inh-caps=-all", "--bounding-set=-all", "--", *own_user_namespace(self.uid), str(python), *child]
        else:
            cmd += ["--unshare-user", "--disable-userns", "--", str(python), *child]
        return cmd, Path("/")

    def _scratch(self) -> str:
        """The basic sandbox's working directory (removed with the process)."""
        import tempfile
        self._scratch_dir = tempfile.mkdtemp(prefix="student-work-")
        return self._scratch_dir

    def _preexec(self):
        cgroups, limits, as_root, basic = self.cgroups, self.limits, os.geteuid() == 0, self.config.kind != "bwrap"

        def run() -> None:
            import resource
            os.setsid()
            cgroups.enter()
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_FSIZE, ((limits.tmp_mb + 64) << 20,) * 2)
            if not cgroups.what or "memory" not in cgroups.what:
                resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_mb << 20,) * 2)
            if not as_root and basic:
                resource.setrlimit(resource.RLIMIT_NPROC, (max(limits.pids, 256),) * 2)
        return run

    # -- life cycle
    def start(self) -> None:
        self.close_process()
        if self._left() <= 0:
            raise AnswerError(f"the submission used its whole time limit ({self.limits.deadline:g} s)")
        self.starts += 1
        self.cgroups = Cgroups(f"gan-kit-{os.getpid()}-{self.config.worker}-{self.starts}", self.limits)
        cmd, cwd = self._command()
        env = {**CHILD_ENV, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         cwd=cwd, env=env, preexec_fn=self._preexec())
        except OSError as exc:
            raise SandboxError(f"could not start the student process: {exc}") from exc
        self.buffer = b""
        self.importing = None
        os.set_blocking(self.proc.stdout.fileno(), False)
        os.set_blocking(self.proc.stdin.fileno(), False)
        allowance = self.limits.question + 60
        left = self._left()
        try:
            hello = self._read_frame(min(allowance, left))
        except AnswerError as exc:
            stderr = self._stderr()
            self.close_process()
            if str(exc) == "timeout" and left < allowance:
                # the submission's own deadline cut the start short: its code used the time, not the grader
                raise AnswerError(f"no time left: your code used the submission's whole time limit "
                                  f"({self.limits.deadline:g} s) before this check") from None
            raise SandboxError(f"the student process did not start: {exc}; {stderr}".strip()) from None
        if hello.get("ready") is not True:
            self.close_process()
            raise SandboxError("the student process did not start (no ready signal)")

    def _stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            os.set_blocking(self.proc.stderr.fileno(), False)
            return (self.proc.stderr.read(4000) or b"").decode(errors="replace").strip()[-1500:]
        except (OSError, ValueError):
            return ""

    def _left(self) -> float:
        """Seconds of the submission's deadline left: the time its questions took, less what their
        processes spent waiting for a CPU (the machine's load is not the student's time)."""
        return self.limits.deadline - self.charged

    def _read_frame(self, timeout: float) -> dict:
        end = time.monotonic() + max(0.0, timeout)
        fd = self.proc.stdout.fileno()
        need = 8
        while True:
            if len(self.buffer) >= 8:
                need = 8 + struct.unpack(">Q", self.buffer[:8])[0]
                if need - 8 > MAX_FRAME_BYTES:
                    raise AnswerError(f"the answer is larger than {MAX_FRAME_BYTES >> 20} MB")
                if len(self.buffer) >= need:
                    body, self.buffer = self.buffer[8:need], self.buffer[need:]
                    try:
                        return loads(body)
                    except CodecError as exc:
                        raise AnswerError(str(exc)) from None
            left = end - time.monotonic()
            if left <= 0:
                raise AnswerError("timeout")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                try:
                    chunk = os.read(fd, max(1 << 16, min(need - len(self.buffer), 1 << 24)))
                except BlockingIOError:
                    continue
                if not chunk:
                    code = self.proc.wait(timeout=5)
                    raise AnswerError(f"exit {code}")
                self.buffer += chunk

    def _write_frame(self, frame: bytes, end: float) -> None:
        """Write a request within the question's time: a child that stops reading cannot block the judge."""
        fd = self.proc.stdin.fileno()
        view = memoryview(frame)
        while view:
            left = end - time.monotonic()
            if left <= 0:
                raise AnswerError("timeout")
            _, ready, _ = select.select([], [fd], [], min(left, 1.0))
            if ready:
                try:
                    view = view[os.write(fd, view[:1 << 16]):]
                except BlockingIOError:
                    continue
                except OSError:           # EPIPE: the child is gone
                    raise BrokenPipeError from None

    # -- time: what the student's code used, apart from what the machine withheld
    def _pids(self) -> set[str]:
        """The sandbox's processes (its cgroup, else the child)."""
        pids: set[str] = set()
        for folder in self.cgroups.folders if self.cgroups else ():
            try:
                pids |= set((folder / "cgroup.procs").read_text().split())
            except OSError:
                pass
        if not pids and self.proc is not None:
            pids = {str(self.proc.pid)}
        return pids

    def _schedstat(self) -> tuple[float, float]:
        """(seconds on a CPU, seconds waiting for one) of the sandbox's threads (grader.probe.cpu_and_wait)."""
        return cpu_and_wait(self._pids())

    def ask(self, question: str, inputs: dict):
        """The student's answer to one question (plain data), or AnswerError with the reason.

        Time is judged on what the student's code did with it: a question that runs out of time while
        its process tree mostly waited for a CPU (a busy machine, a neighbour's threads) is asked again in
        a fresh process with a ceiling STARVED_RETRY times longer; starved twice, it is a SandboxError (a
        grader error, never a lost point). It costs the student only when the code computed for at least
        CPU_SHARE of the question's time, or slept / waited on its own for most of it."""
        from grader.questions import module_of
        if module_of(question) in self.fatal_imports:
            raise AnswerError(self.fatal_imports[module_of(question)])
        if question == "locate":             # never restart a process only to find line numbers
            inputs = {"names": [n for n in inputs["names"] if n.partition(":")[0] not in self.fatal_imports]}
            if not inputs["names"]:
                return {}
        budget = min(self.limits.question, self._left())
        if budget <= 0:
            raise AnswerError(f"no time left: the submission used its whole limit of {self.limits.deadline:g} s")
        ceiling = budget
        for attempt in (1, 2):
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            used0, t0 = self._schedstat(), time.monotonic()
            try:
                return self._attempt(question, inputs, ceiling)
            except _OutOfTime:
                (cpu1, wait1), wall = self._schedstat(), time.monotonic() - t0
                cpu, waited = cpu1 - used0[0], wait1 - used0[1]
                self.close_process()
                self.charged += max(0.0, wall - waited)
                if cpu >= CPU_SHARE * budget:
                    why = (f"your code took longer than {budget:.0f} s for this check: it computed for {cpu:.0f} s "
                           f"of CPU time (stopped)")
                elif not starved(cpu, waited, wall, budget, CPU_SHARE):
                    why = (f"your code took longer than {budget:.0f} s for this check: it was sleeping or waiting "
                           f"(not computing) for most of its {wall:.0f} s (stopped)")
                elif attempt == 1:
                    self.asked_again.append(f"{question}: {cpu:.1f} s on a CPU, {waited:.1f} s waiting for one in {wall:.0f} s")
                    ceiling = budget * STARVED_RETRY
                    continue
                else:
                    raise SandboxError(f"the grading machine was too busy to run '{question}': the student's process "
                                       f"waited {waited:.0f} s for a CPU and computed {cpu:.0f} s in {wall:.0f} s, "
                                       f"twice (load average {os.getloadavg()[0]:.1f}); grade it again on a quieter "
                                       f"machine") from None
                raise self._lost(why) from None
        raise AssertionError("unreachable")

    def _lost(self, why: str) -> AnswerError:
        importing, self.importing = self.importing, None
        if importing:
            why = f"importing {importing}.py: {why}"
            self.fatal_imports[importing] = why
        return AnswerError(why)

    def _attempt(self, question: str, inputs: dict, timeout: float):
        """One try at a question within `timeout` seconds; _OutOfTime when they run out."""
        t0 = time.monotonic()
        try:
            end = t0 + timeout
            self._write_frame(dumps({"q": question, "inputs": encode(plain(inputs))}), end)
            reply = self._read_frame(end - time.monotonic())
            while "importing" in reply and len(reply) == 1:       # progress: the child imports a student module
                self.importing = reply["importing"] if isinstance(reply["importing"], str) else None
                reply = self._read_frame(end - time.monotonic())
        except (BrokenPipeError, AnswerError) as exc:
            reason = str(exc) if isinstance(exc, AnswerError) else "exit"
            if reason == "timeout":
                raise _OutOfTime() from None
            oom = self.cgroups.oom_killed() if self.cgroups else False
            self.close_process()
            self.charged += time.monotonic() - t0
            if oom:
                why = f"your code used more than {self.limits.memory_mb} MB of memory (stopped)"
            elif reason.startswith("exit"):
                why = f"your code ended the grading process ({reason}) during this check"
            else:
                why = f"your code garbled its answer ({reason})"
            raise self._lost(why) from None
        self.charged += time.monotonic() - t0
        self.importing = None
        if "error" in reply:
            raise AnswerError(str(reply["error"])[:2000])
        try:
            return decode(reply.get("value"))
        except CodecError as exc:
            self.close_process()
            raise AnswerError(f"unreadable answer: {exc}") from None

    def close_process(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                try:
                    stream.close()
                except (OSError, ValueError):
                    pass
            self.proc = None
        if self.cgroups is not None:
            self.cgroups.close()
            self.cgroups = None
        if getattr(self, "_scratch_dir", None):
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            self._scratch_dir = None
        if os.geteuid() == 0 and self.config.kind == "bwrap":
            kill_uid(self.uid)

    def close(self) -> None:
        self.close_process()
        if getattr(self, "_own_code", None):
            shutil.rmtree(self._own_code, ignore_errors=True)
        if self._uid_lock is not None:
            os.close(self._uid_lock)
            self._uid_lock = None


def kill_uid(uid: int) -> None:
    """Whatever still runs as a worker's own uid (belt and braces after the pid namespace)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
