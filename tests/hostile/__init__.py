"""Broken and hostile submissions for the batch grader: each is the reference with one attack.

`ATTACKS[name] = (file, code, affected)`: `code` is put at the top of `file` (after the imports
of the module, so it runs at import) or, for 'forward' attacks, replaces a forward method;
`affected` lists the rubric sections allowed to lose points (all the others must score as the
reference does)."""
from __future__ import annotations

HEAD = "from __future__ import annotations\n"

ATTACKS: dict[str, tuple[str, str, set[str]]] = {
    "syntax-error": ("fid.py", "def broken(:\n", {"fid"}),
    "import-time-exception": ("inception_score.py", "raise RuntimeError('boom at import')\n", {"inception_score"}),
    "sys-exit-at-import": ("fid.py", "import sys\nsys.exit(0)\n", {"fid"}),
    "os-exit-at-import": ("inception_score.py", "import os\nos._exit(0)\n", {"inception_score"}),
    "infinite-loop-at-import": ("fid.py", "while True:\n    pass\n", {"fid"}),
    "infinite-loop-in-forward": ("cyclegan.py", "FORWARD_LOOP", {"cyclegan_model"}),
    "huge-allocation": ("fid.py", "_hog = bytearray(64 * 1024 ** 3)\n", {"fid"}),
    "print-flood": ("inception_score.py", "for _ in range(200000):\n    print('x' * 200)\n", set()),
    "fake-results-json": ("fid.py",
                          "import json, os\n"
                          "for _p in (os.environ.get('GRADER_RESULTS', ''), 'results.json', '.grader-results.json'):\n"
                          "    if _p:\n"
                          "        open(_p, 'w').write(json.dumps({'score': 90, 'max_score': 90, 'tests': []}))\n",
                          set()),
    "patch-pytest-and-allclose": ("fid.py",
                                  "import torch, numpy, _pytest.python\n"
                                  "torch.allclose = lambda *a, **k: True\n"
                                  "numpy.allclose = lambda *a, **k: True\n"
                                  "_pytest.python.Function.runtest = lambda self: None\n"
                                  "frechet_distance_real = None\n", {"fid"}),   # its own later tests stop recording
    "always-equal-objects": ("fid.py", "ALWAYS_EQUAL", {"fid"}),
    "forged-record": ("fid.py",
                      "import json, os\n"
                      "_r = os.environ.get('GRADER_RECORD')\n"
                      "if _r:\n"
                      "    open(_r, 'a').write(json.dumps({'key': 'grader/test_dcgan_model.py::"
                      "test_generator_has_1707904_parameters::params', 'value': 1707904}) + '\\n')\n",
                      {"dcgan_model"}),
    "network-socket": ("fid.py",
                       "import socket\n"
                       "try:\n"
                       "    socket.create_connection(('1.1.1.1', 53), timeout=2).close()\n"
                       "    NETWORK = True\n"
                       "except OSError:\n"
                       "    NETWORK = False\n"
                       "if NETWORK:\n"
                       "    raise SystemExit('network reachable')\n", set()),
    "delete-files": ("fid.py",
                     "import os, glob\n"
                     "for _f in glob.glob('*.py') + glob.glob('grader/*.py'):\n"
                     "    if not _f.endswith('fid.py'):\n"
                     "        try:\n"
                     "            os.remove(_f)\n"
                     "        except OSError:\n"
                     "            pass\n", None),
}

FORWARD_LOOP_OLD = '''        # TODO: return the translated image.
        # BEGIN SOLUTION
        return self.model(x)'''
FORWARD_LOOP_NEW = '''        # TODO: return the translated image.
        # BEGIN SOLUTION
        while True:
            pass'''
ALWAYS_EQUAL_OLD = "def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:"
ALWAYS_EQUAL_NEW = '''class _Yes(float):
    def __eq__(self, other):
        return True

    def __le__(self, other):
        return True

    def __lt__(self, other):
        return True

    def __abs__(self):
        return self

    def __sub__(self, other):
        return self


def frechet_distance(mu1, sigma1, mu2, sigma2):
    return _Yes(123.0)


def _unused(mu1, sigma1, mu2, sigma2) -> float:'''


def attacked_source(reference: str, code: str) -> str:
    """The reference with the attack inserted after its imports (or the forward replaced)."""
    if code == "FORWARD_LOOP":
        assert reference.count(FORWARD_LOOP_OLD) == 1, "the forward edit no longer applies"
        return reference.replace(FORWARD_LOOP_OLD, FORWARD_LOOP_NEW)
    if code == "ALWAYS_EQUAL":
        assert reference.count(ALWAYS_EQUAL_OLD) == 1, "the always-equal edit no longer applies"
        return reference.replace(ALWAYS_EQUAL_OLD, ALWAYS_EQUAL_NEW)
    marker = "\nfrom util import"
    at = reference.index(marker)
    end = reference.index("\n", at + 1) + 1
    while reference[end:].startswith(" ") or reference[end:].startswith(")"):
        end = reference.index("\n", end) + 1
    return reference[:end] + code + reference[end:]
