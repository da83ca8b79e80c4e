"""The student process of batch grading: answers the judge's questions, one frame at a time.

Started by grader/sandbox.py inside the sandbox as `python -I child.py GRADER_DIR SUBMISSION_DIR`.
It reads requests {"q": question, "inputs": ...} on stdin and writes {"value": ...} or
{"error": ...} on stdout; everything the student's code prints goes to /dev/null. Whatever it
answers is only an answer: the judge decides, and a garbled stream only costs this submission."""
import os
import struct
import sys


def main() -> None:
    grader_dir, submission = sys.argv[1], sys.argv[2]
    sys.path[:0] = [submission, grader_dir]
    requests, answers = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    import torch
    torch.set_num_threads(1)
    from grader import questions
    from grader.codec import decode, dumps, encode, loads
    from grader.questions import answer, where

    def importing(name: str) -> None:
        answers.write(dumps({"importing": name}))
        answers.flush()
    questions.on_import = importing

    answers.write(dumps({"ready": True}))
    answers.flush()
    while True:
        header = requests.read(8)
        if len(header) < 8:
            return
        request = loads(requests.read(struct.unpack(">Q", header)[0]))
        try:
            reply = {"value": encode(answer(request["q"], decode(request["inputs"])))}
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything, SystemExit included
            reply = {"error": f"{type(exc).__name__}: {exc}"[:1500] + where(exc)}
        answers.write(dumps(reply))
        answers.flush()


if __name__ == "__main__":
    main()
