"""The `workbench` command line. Thin: each command parses its options, calls one service and
renders through `workbench.cli.tables`; one module per group of commands.

Exit codes: 0 ok; 1 findings at or above --fail-on; 2 bad usage or bad input; 3 database busy;
4 incomplete (a detector failed).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

# Polars' allocator (jemalloc, configured by this variable when Polars loads, so before any
# import of it) by default hands freed memory back to the system within moments; ingest frees and
# allocates a chunk's worth of frames hundreds of times, and each time the pages came back as
# fresh ones, faulted in and zeroed (a fifth of ingest's CPU time went to the kernel). Kept ten
# seconds, they are reused: peak memory grows some 10%.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")

import typer
import typer.main
from rich.text import Text

# Typer 0.29 ships its own Click; its usage errors are these (uv.lock pins the version).
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from workbench.cli import aggregate, console, ingest, integrations, investigate, scan, tui
from workbench.cli.common import EXIT_BAD_INPUT, Finished, err
from workbench.render import inert

GROUPS = (ingest, scan, investigate, integrations, console, aggregate, tui)


def _app(*groups: typer.Typer) -> typer.Typer:
    app = typer.Typer(
        add_completion=False,
        no_args_is_help=True,
        help="Offline workbench for abuse of SaaS integrations in Salesforce Event Monitoring logs.",
    )
    for group in groups:
        app.add_typer(group)
    return app


app = _app(*(group.commands for group in GROUPS))


def _app_for(argv: list[str]) -> typer.Typer:
    """The app that runs ARGV. Typer builds the Click command of every command it holds each
    time it runs (about 20 ms for the 23 here, paid before any command starts); when the first
    argument names a command, an app holding that command alone runs it the same way (same
    options, help and errors). Anything else (no command, --help, a typo) gets the whole app."""
    if len(argv) > 1:
        for group in GROUPS:
            for info in group.commands.registered_commands:
                name = info.name or typer.main.get_command_name(getattr(info.callback, "__name__", ""))
                if name == argv[1]:
                    alone = typer.Typer()
                    alone.registered_commands.append(info)
                    return _app(alone)
    return app


def main() -> None:
    """Console-script entry point. Bad usage (an unknown option, a value not among the choices)
    is one line on stderr and exit 2, like every other bad input, not Click's usage panel."""
    try:
        result = _app_for(sys.argv)(standalone_mode=False, prog_name="workbench")
    except NoArgsIsHelpError:
        sys.exit(EXIT_BAD_INPUT)  # the help has been printed
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "workbench"
        err.print(Text(f"error: {command}: {inert(exc.format_message())}", style="red"))
        sys.exit(EXIT_BAD_INPUT)
    except typer.Exit as exc:
        leave(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted")
        sys.exit(130)
    leave(result if isinstance(result, int) else 0)


def leave(code: int) -> NoReturn:
    """Exit with CODE. After a command that says it finished (common.Finished) the interpreter's
    teardown is skipped: the output is flushed here and nothing else is left to close."""
    if Finished.done:
        logging.shutdown()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            sys.exit(code)  # a closed pipe: let the usual exit report it
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
