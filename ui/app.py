"""Start the neurofb desktop app: ``python -m neurofb_ui`` or ``neurofb app``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence

from neurofb.commands.app import process_start_time

log = logging.getLogger(__name__)

#: Environment variable holding the Unix time ``neurofb app`` started (set by the CLI), from
#: which the app's start-up log lines count.
STARTED_AT = "NEUROFB_STARTED_AT"


class StartupClock:
    """Logs, once each, when the window is first drawn and when the first focus value shows.

    Times count from ``neurofb app``'s start (:data:`STARTED_AT`) or this process's. The lines
    (``startup: window drawn 1.23 s after start``) are what ``neurofb bench startup`` reads.
    """

    def __init__(self) -> None:
        try:
            self.t0 = float(os.environ[STARTED_AT])
        except (KeyError, ValueError):
            self.t0 = process_start_time()
        self.seen: set[str] = set()

    def mark(self, what: str) -> None:
        """Log ``what`` the first time it happens."""
        if what in self.seen:
            return
        self.seen.add(what)
        now = time.time()
        log.info("startup: %s %.3f s after start (unix %.3f)", what, now - self.t0, now)

    def watch(self, win: object) -> None:
        """Mark the window's first paint and the stream's first focus value."""
        from PyQt6.QtCore import QEvent, QObject

        clock = self

        class FirstPaint(QObject):
            def eventFilter(self, obj: QObject, event: QEvent) -> bool:
                if event.type() in (QEvent.Type.Paint, QEvent.Type.Expose):
                    clock.mark("window drawn")
                    obj.removeEventFilter(self)
                return False

        self._filter = FirstPaint(win)
        win.installEventFilter(self._filter)

        def on_update(update: object) -> None:
            if getattr(update, "focus", None) is not None:
                clock.mark("first focus")

        win.stream.bridge.update.connect(on_update)

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the app's command line (the same options as ``neurofb app``)."""
    from neurofb.commands.app import add_arguments

    p = argparse.ArgumentParser(prog="neurofb app", description="Open the neurofb desktop app.")
    add_arguments(p)
    args = p.parse_args(argv)
    from neurofb.commands.app import check_arguments
    from neurofb.errors import NeurofbError

    try:
        check_arguments(args)
    except NeurofbError as err:
        p.error(str(err))
    return args


def initial_spec(args: argparse.Namespace, settings: object) -> object:
    """The source to connect to at start, from the options and the saved settings."""
    from neurofb.errors import NeurofbError
    from neurofb_ui.source_panel import SourceSpec, default_kind, demo_path

    if args.board:
        from neurofb_ui.settings import BOARD_FIELDS

        fields = {k: getattr(args, k) for k in BOARD_FIELDS if getattr(args, k) is not None}
        return SourceSpec(kind="board", board=args.board, fields=fields)
    if args.source == "synthetic":
        return SourceSpec(kind="synthetic")
    if args.source and args.source.startswith("lsl:"):
        return SourceSpec(kind="lsl", fields={"stream": args.source[4:],
                                              "montage": settings.lsl_montage,
                                              "unit": settings.lsl_unit})
    if args.source == "demo":
        if not demo_path():
            raise NeurofbError("the demo recording is not installed; use --source synthetic")
        return SourceSpec(kind="demo", file=demo_path())
    if args.source:
        if not os.path.exists(args.source):
            raise NeurofbError(f"--source {args.source}: no such file or folder; give "
                               "synthetic, demo or a recording path")
        return SourceSpec(kind="file", file=os.path.abspath(args.source))
    kind = default_kind(settings)
    if kind == "demo":
        return SourceSpec(kind="demo", file=demo_path())
    if kind == "board":
        return SourceSpec(kind="board", board=settings.board, fields=dict(settings.board_fields))
    if kind == "lsl":
        return SourceSpec(kind="lsl", fields={"stream": settings.lsl_stream,
                                              "montage": settings.lsl_montage,
                                              "unit": settings.lsl_unit})
    if kind == "file" and settings.file and os.path.exists(settings.file):
        return SourceSpec(kind="file", file=settings.file)
    return SourceSpec(kind="synthetic")


def build_window(args: argparse.Namespace) -> object:
    """Make the main window (a QApplication must exist)."""
    from neurofb_ui.settings import load_settings
    from neurofb_ui.stream import connect_request, open_early

    if args.data_dir:
        os.environ["NEUROFB_HOME"] = os.path.abspath(args.data_dir)
    from neurofb.commands.options import configure_lsl
    from neurofb.errors import NeurofbError

    configure_lsl(args)  # before any LSL call
    settings = load_settings()
    try:
        if args.lsl_out is not None:
            settings = settings.with_(lsl_out=True, lsl_out_name=args.lsl_out)
        if args.osc_out is not None:
            settings = settings.with_(osc_out=args.osc_out)
    except ValueError as err:
        raise NeurofbError(str(err)) from None
    spec = initial_spec(args, settings)
    # The stream opens (a board or the demo starts, the model loads) while the window is built.
    opening = None if args.no_connect else open_early(connect_request(spec, settings))
    from neurofb_ui.main_window import MainWindow

    win = MainWindow(settings, data_dir=args.data_dir)
    win.early_opening = opening  # closed by main() if the window closes before adopting it
    win.source.select(spec)
    if opening is not None:
        win.start_later(lambda: win.connect_source(spec, opening=opening))
    return win


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes; return the exit code."""
    from PyQt6.QtWidgets import QApplication

    from neurofb.commands.app import xcb_problem
    from neurofb.errors import NeurofbError

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    clock = StartupClock()
    problem = "" if QApplication.instance() else xcb_problem()
    if problem:  # Qt would abort with "could not load the Qt platform plugin xcb"
        print(f"neurofb app: error: {problem}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("neurofb")
    app.setOrganizationName("neurofb")
    try:
        win = build_window(args)
    except NeurofbError as err:
        print(f"neurofb app: error: {err}", file=sys.stderr)
        return 2
    clock.watch(win)
    win.show()
    if args.quit_after is not None:
        win.start_later(win.close, int(args.quit_after * 1000))
    code = app.exec()
    opening = getattr(win, "early_opening", None)
    if opening is not None and opening.done() and opening.exception() is None:
        opening.result().close()  # idempotent: a no-op when the window adopted and closed it
    destroy_window(app, win)
    return code


def destroy_window(app: object, win: object) -> None:
    """Destroy the window (its widgets, timers, plots) now, while the application still lives.

    Left to Python, the two went when :func:`main` returned, in the order of its local
    variables: the QApplication first, then the window — destroying widgets after their
    application segfaulted about one exit in 25 under X.
    """
    from PyQt6.QtCore import QEvent

    win.deleteLater()  # type: ignore[attr-defined]
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)  # type: ignore[attr-defined]
