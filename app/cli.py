"""The `vigil` command: serve, check (a one-shot deployment gate), config validate/show.

Exit status: 0 ready / ok, 1 not ready, 2 usage or configuration error (one line per problem, no traceback),
130 when `check` is interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from app import __version__

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.config.specs import CheckSpec

EXIT_OK, EXIT_NOT_READY, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep its one-line style
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"vigil: error: {message}\n")


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="FILE", help="YAML configuration (default: $VIGIL_CONFIG)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vigil", description="Health checks and readiness for a system's dependencies.")
    parser.add_argument("--version", action="version", version=f"vigil {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the service (HTTP API, probes, metrics)")
    _config_arg(serve)
    serve.add_argument("--host", help="listen address (default: server.host, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port, 8080)")
    serve.add_argument("--log-format", choices=["text", "json"], help="log line format (default: log_format)")

    check = sub.add_parser("check", help="run every check once and exit 0 when ready, 1 when not")
    _config_arg(check)
    check.add_argument("--component", action="append", default=[], help="only this component (repeatable)")
    check.add_argument("--check", action="append", default=[], help="only this check, component:check (repeatable)")
    check.add_argument("--format", choices=["table", "json", "junit"], default="table")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    check.add_argument("--strict", action="store_true", help="degraded checks gate the exit status too")

    config = sub.add_parser("config", help="validate or show the configuration")
    config_sub = config.add_subparsers(dest="action", required=True, parser_class=_Parser)
    _config_arg(config_sub.add_parser("validate", help="exit 0 when the configuration is valid, 2 when not"))
    show = config_sub.add_parser("show", help="print the effective configuration, secrets redacted")
    _config_arg(show)
    show.add_argument("--format", choices=["yaml", "json"], default="yaml", help="yaml (default) or json for tools")
    return parser


def _load(path: str | None, *, need_checks: bool = True) -> Settings:
    """The settings, or exit 2 with one line per problem. Without a single check there is nothing to be ready
    for: a gate or probe that passes because nothing was configured is a silent failure, so it is an error."""
    # Imported here: loading every component type takes most of a second, and --help should not wait for it.
    from app.config.settings import ConfigError, load_settings

    try:
        settings = load_settings(path)
    except ConfigError as exc:
        for problem in exc.entries:
            print(f"vigil: config error: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    if need_checks and not any(component.checks for component in settings.components.values()):
        source = path or os.environ.get("VIGIL_CONFIG")
        where = (
            f"{source} (from {'--config' if path else '$VIGIL_CONFIG'}) has no components with checks"
            if source
            else "Vigil reads its configuration from --config FILE or $VIGIL_CONFIG, and neither is set"
        )
        print(f"vigil: config error: no checks are configured: {where}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    return settings


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "config":
        settings = _load(args.config, need_checks=args.action == "validate")
        if args.action == "validate":
            checks = sum(len(component.checks) for component in settings.components.values())
            print(f"configuration ok: {len(settings.components)} components, {checks} checks")
        elif args.format == "json":
            json.dump(settings.redacted(), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            import yaml

            yaml.safe_dump(settings.redacted(), sys.stdout, sort_keys=False, allow_unicode=True)
        return EXIT_OK
    if args.command == "serve":
        return serve(_load(args.config), args.host, args.port, args.log_format, args.config)
    settings = _load(args.config)
    specs = _select(settings, args.component, args.check)
    try:
        # Opened before the checks run: a report that cannot be written is a usage error, found at once.
        out: TextIO = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    except OSError as exc:
        print(f"vigil: error: --output {args.output}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(check(settings, specs, args, out))
    finally:
        if args.output:
            out.close()


# -- serve -------------------------------------------------------------------------------------------


def serve(
    settings: Settings, host: str | None, port: int | None, log_format: str | None, path: str | None = None
) -> int:
    import uvicorn

    from app.api.details import details_warning
    from app.api.protocol import bounded_protocol
    from app.config.settings import load_settings
    from app.logs import setup_logging
    from app.main import create_app
    from app.masking import Scrubber

    setup_logging(log_format or settings.log_format, settings.log_level, Scrubber(settings.secret_values()))
    if (warning := details_warning(settings)) is not None:
        logging.getLogger("vigil").warning(warning)
    # A SIGHUP asks for a reload; until the app's handler is in place it must not end the process (its default).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    source = path if path is not None else os.environ.get("VIGIL_CONFIG")
    # A reload reads the same sources again: the file given at startup and the environment.
    app = create_app(settings, lambda: load_settings(path), Path(source) if source else None)
    store = app.state.services.store
    # SIGTERM to exit fits in server.shutdown_grace: a quarter draining (readiness already 503, still
    # answering so callers see it), a quarter for in-flight requests, half for the scheduler (main's lifespan).
    grace = settings.server.shutdown_grace
    drain = min(1.0, grace / 4)

    class Server(uvicorn.Server):
        draining_until: float | None = None
        frozen = False

        def handle_exit(self, sig: int, frame: Any) -> None:
            # SIGTERM and SIGINT (Ctrl-C) alike: readiness turns 503 at once, a short drain, then a quiet exit 0.
            # uvicorn's own handler would re-raise the signal after shutdown (a KeyboardInterrupt traceback).
            store.begin_shutdown()
            if self.draining_until is None and drain > 0:
                self.draining_until = time.monotonic() + drain
                return
            if self.should_exit:  # a second signal: stop now, without waiting for connections
                self.force_exit = True
            self.should_exit = True

        async def on_tick(self, counter: int) -> bool:
            if self.draining_until is not None and time.monotonic() >= self.draining_until:
                self.should_exit = True
            if not self.frozen and store.startup_complete:
                self.frozen = True
                freeze_long_lived()
            return await super().on_tick(counter)

    config = uvicorn.Config(
        app,
        host=host or settings.server.host,
        port=settings.server.port if port is None else port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=grace / 4,  # type: ignore[arg-type]  # a float works: it feeds asyncio.wait_for
        lifespan="on",
        server_header=False,
        http=bounded_protocol(settings.server.max_header_bytes, settings.server.max_headers),
        proxy_headers=False,  # Vigil reads neither the client's address nor the scheme: no X-Forwarded-* to parse
    )
    Server(config).run()
    return EXIT_OK


def freeze_long_lived() -> None:
    """Once every check has run: what exists now (modules, config, clients, the store) lives as long as the
    process, so the cyclic GC stops walking it. A full collection over it took 40-60 ms at 1,000 checks, on the
    loop every check and probe shares; afterwards a full collection walks only what changed since."""
    gc.collect()
    gc.freeze()


# -- check -------------------------------------------------------------------------------------------


def _select(settings: Settings, components: list[str], checks: list[str]) -> list[CheckSpec]:
    from app.config.specs import resolve
    from app.model import CheckId

    specs = resolve(settings, one_shot=True)
    if not components and not checks:
        return specs
    chosen: list[CheckSpec] = []
    problems = []
    for name in components:
        if name not in settings.components:
            problems.append(f"--component {name}: no such component")
        chosen.extend(spec for spec in specs if spec.id.component == name)
    by_id = {str(spec.id): spec for spec in specs}
    for text in checks:
        spec = by_id.get(text) if CheckId.parse(text) is not None else None
        if spec is None:
            problems.append(f"--check {text}: no such check (use component:check)")
        else:
            chosen.append(spec)
    if problems:
        for problem in problems:
            print(f"vigil: error: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    return list({spec.id: spec for spec in chosen}.values())


async def check(settings: Settings, specs: list[CheckSpec], args: argparse.Namespace, out: TextIO) -> int:
    from app.logs import setup_logging
    from app.main import build_engine
    from app.masking import Scrubber
    from app.views.gate import junit_xml, table
    from app.views.report import encode, health_document, overall

    # The report says what failed; transition log lines would only repeat it.
    setup_logging(settings.log_format, "error", Scrubber(settings.secret_values()))
    store, scheduler = build_engine(settings, specs)
    scheduler.build()
    progress = sys.stderr.isatty()
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(runner.run(scheduled=False)) for runner in scheduler.runners.values()]
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        for task in tasks:
            task.cancel()

    loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        for done, future in enumerate(asyncio.as_completed(tasks), start=1):
            with contextlib.suppress(asyncio.CancelledError):
                await future
            if progress:
                print(f"\rrunning checks: {done}/{len(tasks)} done", end="", file=sys.stderr, flush=True)
        if progress:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await scheduler.stop(grace=2.0)
    elapsed = time.monotonic() - started
    if interrupted:
        print("vigil: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED

    states = list(store.states.values())
    # One rule for the exit status and the report: the same verdict /readyz and /health give (app.engine.readiness).
    ready = overall(states, strict=args.strict).ok
    if args.format == "json":
        _, document = health_document(store, states, details=True, strict=args.strict, group="area")
        report = encode(document, indent=2) + "\n"
    elif args.format == "junit":
        report = junit_xml(store, states, elapsed, strict=args.strict)
    else:
        report = table(store, states, elapsed, strict=args.strict, **_terminal(out))
    try:
        out.write(report)
        out.flush()
    except BrokenPipeError:  # `vigil check | head`: the verdict stands, the rest of the report is not wanted
        _quiet_stdout()
    if args.output and args.format != "table":
        print(table(store, states, elapsed, strict=args.strict, **_terminal(sys.stderr)), end="", file=sys.stderr)
    return EXIT_OK if ready else EXIT_NOT_READY


def _terminal(stream: TextIO) -> dict[str, Any]:
    """How the table is drawn on `stream`: wrapped to the terminal's width, coloured on a terminal unless NO_COLOR
    is set (no-color.org); in a pipe or a file, wrapped to $COLUMNS (or 120) and never coloured."""
    tty = stream.isatty()
    columns = shutil.get_terminal_size((120, 24)).columns
    return {"columns": columns, "colour": tty and not os.environ.get("NO_COLOR")}


def run() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`vigil config show | head`): stop quietly. For `check`, the verdict was already
        # decided; a cut report does not change it, so the report writer keeps the exit status (see `check`).
        code = EXIT_OK
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    finally:
        _quiet_stdout()
    sys.exit(code)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise on a closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    run()
