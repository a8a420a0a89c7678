"""The `workbench` command line. Thin: each command parses its options, calls one service and
renders through `workbench.cli.tables`; one module per group of commands.

Exit codes: 0 ok; 1 findings at or above --fail-on; 2 bad usage or bad input; 3 database busy;
4 incomplete (a detector failed).
"""

from __future__ import annotations

import os
import sys

# Polars' allocator (jemalloc, configured by this variable when Polars loads, so before any
# import of it) by default hands freed memory back to the system within moments; ingest frees and
# allocates a chunk's worth of frames hundreds of times, and each time the pages came back as
# fresh ones, faulted in and zeroed (a fifth of ingest's CPU time went to the kernel). Kept ten
# seconds, they are reused: peak memory grows some 10%.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")

import typer
from rich.text import Text

# Typer 0.29 ships its own Click; its usage errors are these (uv.lock pins the version).
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from workbench.cli import aggregate, console, ingest, integrations, investigate, scan, tui
from workbench.cli.common import EXIT_BAD_INPUT, err
from workbench.render import inert

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Offline workbench for abuse of SaaS integrations in Salesforce Event Monitoring logs.",
)
for group in (ingest, scan, investigate, integrations, console, aggregate, tui):
    app.add_typer(group.commands)


def main() -> None:
    """Console-script entry point. Bad usage (an unknown option, a value not among the choices)
    is one line on stderr and exit 2, like every other bad input, not Click's usage panel."""
    try:
        result = app(standalone_mode=False, prog_name="workbench")
    except NoArgsIsHelpError:
        sys.exit(EXIT_BAD_INPUT)  # the help has been printed
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "workbench"
        err.print(Text(f"error: {command}: {inert(exc.format_message())}", style="red"))
        sys.exit(EXIT_BAD_INPUT)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted")
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
