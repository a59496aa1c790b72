"""Count what the house rules forbid, from the code's own syntax trees:

- imports from a domain room (collectors/, radar/, warehouse/, classifiers/, review/, reports/)
  up into a face (tagwatch/, webapp/, dags/), including imports inside functions;
- `_private` names of one module used by another (`from m import _x`, `m._x`);
- functions longer than 80 lines in product code (everything but tests/ and bench/).

    python scripts/architecture.py        # prints every finding and the three counts

tests/test_architecture.py runs the same functions, so the figures are the suite's.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("collectors", "radar", "warehouse", "classifiers", "review", "reports")
FACES = ("tagwatch", "webapp", "dags")
PRODUCT = (*DOMAIN, *FACES, "fakes", "scripts")
MAX_LINES = 80


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def python_files(rooms: tuple[str, ...], root: Path = ROOT) -> list[Path]:
    return sorted(p for room in rooms for p in (root / room).rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module an ImportFrom names, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def domain_to_face_imports(root: Path = ROOT) -> list[Finding]:
    found = []
    for path in python_files(DOMAIN, root):
        module = module_name(path, root)
        for node in ast.walk(_tree(path)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [_absolute(node, module, path.name == "__init__.py")]
            for name in names:
                if name.split(".")[0] in FACES:
                    found.append(Finding(_rel(path, root), node.lineno, f"imports {name}"))
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def cross_module_private_uses(root: Path = ROOT, rooms: tuple[str, ...] = (*PRODUCT, "tests", "bench")) -> list[Finding]:
    """`from pkg.mod import _x`, and `alias._x` where alias is a module of ours imported here."""
    ours = set(DOMAIN + FACES + ("fakes",))
    found = []
    for path in python_files(rooms, root):
        module = module_name(path, root)
        tree = _tree(path)
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] in ours:
                        aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(node, module, path.name == "__init__.py")
                if source.split(".")[0] not in ours or source == module:
                    continue
                for a in node.names:
                    if _private(a.name):
                        found.append(Finding(_rel(path, root), node.lineno, f"imports {source}.{a.name}"))
                    else:
                        aliases[a.asname or a.name] = f"{source}.{a.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and aliases[node.value.id] != module):
                found.append(Finding(_rel(path, root), node.lineno, f"uses {aliases[node.value.id]}.{node.attr}"))
    return found


def long_functions(root: Path = ROOT, limit: int = MAX_LINES) -> list[Finding]:
    found = []
    for path in python_files(PRODUCT, root):
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(Finding(_rel(path, root), node.lineno, f"{node.name} is {lines} lines"))
    return found


def main() -> int:
    checks = (("domain -> face imports", domain_to_face_imports()),
              ("cross-module _private uses", cross_module_private_uses()),
              (f"functions over {MAX_LINES} lines", long_functions()))
    for title, findings in checks:
        for finding in findings:
            print(f"{title}: {finding}")
    for title, findings in checks:
        print(f"{title}: {len(findings)}")
    return 1 if any(findings for _, findings in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
