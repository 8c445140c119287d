"""Run many ``chaosflow`` commands, each in a process of its own, without paying the imports
for each: this script imports the CLI once, then forks one child per command.

A child is what ``chaosflow ARGS`` is (``sys.exit(main(argv))``, an uncaught exception printed
by Python and exit 1, a signal its death), in its own folder with its own stdout and stderr
files. Commands come as JSON lines on stdin ({"argv": [...], "cwd": "...", "out": "...",
"err": "..."}); each answer is a JSON line {"code": N} or {"signal": N}.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

# Imported before the forks (main imports them lazily, each child would pay for them again).
import chaosflow._load_command
import chaosflow._options
import chaosflow._report_command
import chaosflow._validate_command
import chaosflow.cli
import examples.order_saga
import loadtests
import scenarios

PRELOADED = (
    chaosflow._load_command,
    chaosflow._options,
    chaosflow._report_command,
    chaosflow._validate_command,
    examples.order_saga,
    loadtests,
    scenarios,
)


def _child(command: dict[str, object]) -> None:
    os.chdir(str(command["cwd"]))
    for fd, name in ((1, "out"), (2, "err")):
        handle = os.open(str(command[name]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdout = os.fdopen(1, "w", closefd=False)
    sys.stderr = os.fdopen(2, "w", closefd=False)
    try:
        code = chaosflow.cli.main([str(a) for a in command["argv"]])  # type: ignore[union-attr]
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        traceback.print_exc()  # what Python prints for an uncaught exception
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(command)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            answer = {"signal": os.WTERMSIG(status)}
        else:
            answer = {"code": os.WEXITSTATUS(status)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
