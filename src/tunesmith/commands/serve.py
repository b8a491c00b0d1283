"""`tunesmith serve`: the local web app."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import TunesmithError
from .runtime import DEVICE_HELP, set_threads, torch_device


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every network; think first)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    models_dir: Path = typer.Option(Path("runs"), "--models-dir", help="Trained runs to offer besides the shipped models (each <name>/best)."),
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite file of the stored tunes (default: $TUNESMITH_DB or ~/.local/share/tunesmith/tunes.db)."),
    threads: int = typer.Option(1, help="CPU threads for torch per request; requests themselves run side by side."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
) -> None:
    """Compose in the browser: generate, see, hear, edit and keep tunes (http://HOST:PORT)."""
    import uvicorn

    from ..web.app import create_app
    from ..web.store import default_db_path

    set_threads(threads)
    if not 0 < port < 65536:
        raise TunesmithError(f"--port must be between 1 and 65535 (got {port})")
    where = torch_device(device)
    web = create_app(db=db, runs_dir=models_dir, device=where, welcome=True)
    typer.echo(f"tunes are kept in {db or default_db_path()}; open http://{host}:{port}/", err=True)
    uvicorn.run(web, host=host, port=port, log_level="warning")
