"""Broken and hostile submissions for the batch grader.

`ATTACKS[name] = Attack(base, file, code, affected, where)`: `base` is the kit's reference or the
student skeleton (honest score 0 on every code section); `code` goes into `file` at import time
(after the module's imports), at its end, or replaces a function (see `attacked_source`).
`affected` lists the sections a reference-based attack may lose; every other section must score
exactly as its base does. A skeleton-based attack must score exactly 0: nothing it reads,
writes, patches or forges may earn a point."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Attack:
    base: str                 # 'reference' or 'skeleton'
    file: str
    code: str
    affected: set[str]
    where: str = "imports"    # 'imports', 'end', or the name of a function whose body is replaced


SEARCH_REFERENCE = '''
import os as _os
def _looks_like_solution(text):
    return "BEGIN SOLUTION" in text or ("class DCGAN_Solver" in text and "binary_cross_entropy" in text)
_roots = ["/"] + [_os.path.dirname(_os.path.dirname(_os.path.dirname(__import__("sys").executable)))]
for _pid in (p for p in _os.listdir("/proc") if p.isdigit()):
    try:
        _roots += [a for a in open(f"/proc/{_pid}/cmdline").read().split("\\0") if a.startswith("/")]
    except OSError:
        pass
_done = False
for _root in _roots:
    for _dir, _subdirs, _files in _os.walk(_root):
        if _dir.startswith(("/proc", "/sys", "/dev")) or _done:
            _subdirs[:] = []
            continue
        for _f in _files:
            if _f == "dcgan.py":
                try:
                    _text = open(_os.path.join(_dir, _f)).read()
                except OSError:
                    continue
                if _looks_like_solution(_text) and _dir != "/submission":
                    exec(compile(_text, "found.py", "exec"), globals())
                    _done = True
'''

FORGE_CONSTANTS = '''
import sys as _sys
_q = _sys.modules.get("grader.questions")
if _q is not None:
    _q.QUESTIONS["dcgan_params"] = lambda part, gan_type="gan": 1707904 if part == "G" else 663424
    _q.QUESTIONS["cyclegan_generator_facts"] = lambda shapes, seed: {"params": 7837696, "shapes": shapes}
    _q.QUESTIONS["cyclegan_discriminator_facts"] = lambda sizes, seed: {
        "params": 2764672, "shapes": [[1, 1, s // 8 - 2, s // 8 - 2] for s in sizes]}
    _q.QUESTIONS["inception_score"] = lambda probs, splits: [float(probs.shape[1]), 0.0]
'''

PUBLIC_GRADER_RECORD = '''
import glob as _glob, json as _json, os as _os
_line = _json.dumps({"key": "grader/test_dcgan_model.py::test_generator_has_1707904_parameters::params",
                     "value": 1707904}) + "\\n"
_targets = [_os.environ.get(k, "") for k in ("GRADER_RECORD", "GRADER_RESULTS")]
_targets += ["/submission/.grader-record.jsonl", "/tmp/.grader-record.jsonl", "results.json", "/grader/results.json"]
_targets += _glob.glob("/**/results.json", recursive=True) + _glob.glob("/**/*.jsonl", recursive=True)
for _p in _targets:
    try:
        with open(_p, "a") as _f:
            _f.write(_line)
    except OSError:
        pass
for _p in _glob.glob("/**/test_*.py", recursive=True) + _glob.glob("/**/conftest.py", recursive=True):
    try:
        exec(compile(open(_p).read(), _p, "exec"), {})
    except BaseException:
        pass
'''

CLASSMATES = '''
import json as _json, os as _os
_good = _json.dumps({"score": 90, "max_score": 90, "tests": [], "status": "ok"})
for _dir, _subdirs, _files in _os.walk("/"):
    if _dir.startswith(("/proc", "/sys", "/dev", "/usr", "/venv")):
        _subdirs[:] = []
        continue
    for _f in _files:
        if _f in ("results.json", "grades.csv", "record.jsonl") or _f.endswith(".jsonl"):
            try:
                open(_os.path.join(_dir, _f), "w").write(_good)
            except OSError:
                pass
'''

DAEMON = '''
import os as _os, time as _time, signal as _signal
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        for _s in (_signal.SIGTERM, _signal.SIGHUP, _signal.SIGINT):
            _signal.signal(_s, _signal.SIG_IGN)
        _end = _time.time() + 240
        while _time.time() < _end:
            for _dir, _subdirs, _files in _os.walk("/"):
                if _dir.startswith(("/proc", "/sys", "/dev", "/usr")):
                    _subdirs[:] = []
                    continue
                for _f in ("dcgan.py", "results.json"):
                    try:
                        open(_os.path.join(_dir, _f), "a").write("\\n# daemon was here\\n")
                    except OSError:
                        pass
            try:
                _os.kill(-1, _signal.SIGKILL)
            except OSError:
                pass
            _time.sleep(0.5)
        _os._exit(0)
    _os._exit(0)
'''

RAW_FRAMES = '''
    import os, struct, json
    frames = [b"[" * 200000 + b"]" * 200000,
              json.dumps({"value": {"__array__": "AAAA", "dtype": "<f8", "shape": [100000, 100000]}}).encode()]
    for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):
        for body in frames:
            try:
                os.write(fd, struct.pack(">Q", len(body)) + body)
            except OSError:
                pass
    try:
        os.write(3, struct.pack(">Q", 2 ** 62))
    except OSError:
        pass
    return 0.0
'''

AMPLIFY = '''
    import numpy as np
    return np.zeros((40000, 1)), np.zeros((1, 40000))
'''

BLOCKED_SIGNALS_LOOP = '''
import signal as _signal
_signal.pthread_sigmask(_signal.SIG_BLOCK, [_signal.SIGALRM, _signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP])
while True:
    pass
'''

FORK_MEMORY = '''
import os as _os, time as _time
for _ in range(6):
    if _os.fork() == 0:
        _hog = b"x" * (1024 ** 3)
        _time.sleep(60)
        _os._exit(0)
_time.sleep(20)
'''

FORK_BOMB = '''
import os as _os, time as _time
_kids = 0
for _ in range(2000):
    try:
        if _os.fork() == 0:
            _time.sleep(120)
            _os._exit(0)
        _kids += 1
    except OSError:
        break
'''

DISK_FILL = '''
for _path in ("/tmp/fill", "/dev/shm/fill", "/submission/fill", "/grader/fill"):
    try:
        with open(_path, "wb") as _f:
            for _ in range(4096):
                _f.write(b"\\0" * (1 << 20))
    except OSError:
        pass
'''

ALWAYS_EQUAL = '''
    class _Yes(float):
        def __eq__(self, other):
            return True
        __le__ = __lt__ = __ge__ = __gt__ = __eq__

        def __abs__(self):
            return self

        def __sub__(self, other):
            return self
    return _Yes(123.0)
'''

FORGE_TRACES = '''
import sys as _sys
import numpy as _np
_q = _sys.modules.get("grader.questions")
_G = [("ConvTranspose2d", 256, 256, 4, 1, 0), ("ConvTranspose2d", 256, 128, 4, 2, 1),
      ("ConvTranspose2d", 128, 64, 4, 2, 1), ("ConvTranspose2d", 64, 3, 4, 2, 1)]
_D = [("Conv2d", 3, 64, 4, 2, 1), ("Conv2d", 64, 128, 4, 2, 1), ("Conv2d", 128, 256, 4, 2, 1), ("Conv2d", 256, 1, 4, 1, 0)]


def _call(i, kind, c_in, c_out, k, s, p):
    return {"kind": kind, "c_in": c_in, "c_out": c_out, "kernel": [k, k], "stride": [s, s], "padding": [p, p],
            "padding_mode": "zeros", "output_padding": [0, 0], "bias": False, "dilation": [1, 1], "groups": 1,
            "module": i, "params": c_in * c_out * k * k, "input": _np.zeros((4, c_in, 2, 2)),
            "output": _np.zeros((4, c_out, 2, 2)), "weight_shape": [c_out, c_in, k, k] if kind == "Conv2d" else
            [c_in, c_out, k, k], "weight_rows": _np.zeros((min(4, c_out), c_in, k, k) if kind == "Conv2d" else
            (c_in, min(4, c_out), k, k)), "rows": list(range(min(4, c_out))), "bias_value": None}


def _trace(part, x, seed, gan_type="gan"):
    table = _G if part == "G" else _D
    convs = [_call(i, *row) for i, row in enumerate(table)]
    bns = [{"kind": "BatchNorm2d", "num_features": row[2], "input": c["output"], "output": c["output"], "module": 10 + i,
            "params": 2 * row[2], "weight": _np.ones(row[2]), "bias_value": _np.zeros(row[2]), "eps": 1e-5,
            "batch_stats": True, "running": None} for i, (row, c) in enumerate(zip(table[:3], convs))]
    return {"out": _np.zeros((4, 3, 32, 32) if part == "G" else (4, 1)), "convs": convs, "bns": bns}


if _q is not None:
    _q.QUESTIONS["dcgan_trace"] = _trace
    _q.QUESTIONS["dcgan_params"] = lambda part, gan_type="gan": 1707904 if part == "G" else 663424
'''

FORGE_EMPTY = '''
import sys as _sys
import numpy as _np
_q = _sys.modules.get("grader.questions")
if _q is not None:
    _q.QUESTIONS["inception_score"] = lambda probs, splits: [_np.array([]), _np.array([])]
    _q.QUESTIONS["frechet_distance"] = lambda mu1, s1, mu2, s2: _np.array([])
    _q.QUESTIONS["feature_statistics"] = lambda features: [_np.array([]), _np.array([])]
'''

ATTACKS: dict[str, Attack] = {
    # broken code
    "syntax-error": Attack("reference", "fid.py", "def broken(:\n", {"fid"}),
    "import-time-exception": Attack("reference", "inception_score.py", "raise RuntimeError('boom at import')\n",
                                    {"inception_score"}),
    "sys-exit-at-import": Attack("reference", "fid.py", "import sys\nsys.exit(0)\n", {"fid"}),
    "os-exit-at-import": Attack("reference", "inception_score.py", "import os\nos._exit(0)\n", {"inception_score"}),
    "infinite-loop-in-forward": Attack("reference", "cyclegan.py", "        while True:\n            pass\n",
                                       {"cyclegan_model"}, where="CycleGAN_Discriminator.forward"),
    "huge-allocation": Attack("reference", "fid.py", "_hog = b'x' * (64 * 1024 ** 3)\n", {"fid"}),
    "print-flood": Attack("reference", "inception_score.py", "for _ in range(200000):\n    print('x' * 200)\n", set()),
    "always-equal-objects": Attack("reference", "fid.py", ALWAYS_EQUAL, {"fid"}, where="frechet_distance"),
    "network-socket": Attack("reference", "fid.py",
                             "import socket\n"
                             "try:\n"
                             "    socket.create_connection(('1.1.1.1', 53), timeout=2).close()\n"
                             "    raise SystemExit('network reachable')\n"
                             "except OSError:\n"
                             "    pass\n", set()),
    "delete-files": Attack("reference", "fid.py",
                           "import os, glob\n"
                           "for _f in glob.glob('/**/*.py', recursive=True):\n"
                           "    try:\n"
                           "        os.remove(_f)\n"
                           "    except OSError:\n"
                           "        pass\n", {"fid"}),     # walking every file may outlast the import's time
    # forging what the judge reads
    "forge-constants": Attack("skeleton", "cyclegan.py", FORGE_CONSTANTS, set(), where="end"),
    "forge-zero-traces": Attack("skeleton", "dcgan.py", FORGE_TRACES, set(), where="end"),
    "forge-empty-answers": Attack("skeleton", "inception_score.py", FORGE_EMPTY, set(), where="end"),
    "public-grader-record": Attack("skeleton", "dcgan.py", PUBLIC_GRADER_RECORD, set()),
    "delegate-to-reference": Attack("skeleton", "dcgan.py", SEARCH_REFERENCE, set(), where="end"),
    "classmates-records": Attack("skeleton", "fid.py", CLASSMATES, set()),
    "surviving-daemon": Attack("skeleton", "dcgan.py", DAEMON, set()),
    # the harness
    "raw-protocol-frames": Attack("reference", "fid.py", RAW_FRAMES, {"fid"}, where="frechet_distance"),
    "judge-amplification": Attack("reference", "fid.py", AMPLIFY, {"fid"}, where="feature_statistics"),
    "blocked-signals-loop": Attack("reference", "inception_score.py", BLOCKED_SIGNALS_LOOP, {"inception_score"}),
    # resources
    "fork-memory": Attack("reference", "fid.py", FORK_MEMORY, {"fid"}),
    "fork-bomb": Attack("reference", "fid.py", FORK_BOMB, {"fid"}),
    "disk-fill": Attack("reference", "fid.py", DISK_FILL, set()),
}


def attacked_source(base: str, attack: Attack) -> str:
    """`base` with the attack inserted after its imports, appended, or replacing a function body."""
    if attack.where == "end":
        return base + "\n" + attack.code
    if attack.where != "imports":
        cls, _, func = attack.where.rpartition(".")
        start = base.index(f"class {cls}") if cls else 0
        head = base.index(f"def {func}(", start)
        body = base.index(":\n", base.index(")", head)) + 2
        indent = " " * (len(base[:head]) - len(base[:head].rstrip(" ")))
        end = body
        lines = base[body:].splitlines(keepends=True)
        for line in lines:
            if line.strip() and not line.startswith(indent + " "):
                break
            end += len(line)
        return base[:body] + attack.code + "\n" + base[end:]
    marker = "\nfrom util import"
    at = base.index(marker)
    end = base.index("\n", at + 1) + 1
    while base[end:].startswith(" ") or base[end:].startswith(")"):
        end = base.index("\n", end) + 1
    return base[:end] + attack.code + base[end:]
