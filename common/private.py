"""Private files: the warehouse holds posts written about real people, password hashes and
school contacts' addresses, so what tagwatch writes is readable by its own user only
(files 0600, directories 0700), whatever the umask of the shell that started it."""
from __future__ import annotations

import os
from pathlib import Path

FILE_MODE, DIR_MODE = 0o600, 0o700


def private_umask() -> None:
    """Every file and directory this process creates from now on is private."""
    os.umask(0o077)


def private_dir(path: Path | str) -> Path:
    """Create `path` (and missing parents) as private directories; an existing directory
    tagwatch owns is made private too."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _chmod(path, DIR_MODE)
    return path


def private_file(path: Path | str) -> None:
    """Make an existing file private (no-op when it is absent or not ours)."""
    _chmod(Path(path), FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.exists() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError:
        pass  # a file system without modes, or not ours: nothing more can be done
