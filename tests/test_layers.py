"""The layering rule of DESIGN.md, checked by walking every import in engine/ with ast:
a module imports only from its own layer or below, and never hides an import inside a
function to dodge a cycle."""

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# Lower number = lower layer. Packages not listed must be added here when created.
LAYERS = {
    "engine._native": 0,
    "engine.codec": 0,
    "engine.storage": 1,
    "engine.errors": 2,
    "engine.model": 2,
    "engine.expr": 2,
    "engine.table": 3,
    "engine.index": 3,
    "engine.capacity": 3,
    "engine.streams": 3,
    "engine.ttl": 3,
    "engine.backup": 3,
    "engine.pitr": 3,
    "engine.api": 4,
    "engine.server": 5,
    "engine.client": 5,
}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        rank = LAYERS.get(".".join(parts[:n]))
        if rank is not None:
            return rank
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ENGINE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def iter_imports(tree: ast.AST, module: str, is_package: bool):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node, target


def engine_modules():
    return sorted(p for p in ENGINE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_engine_package_has_a_layer():
    for path in engine_modules():
        name = module_name(path)
        if name != "engine":
            assert layer_of(name) is not None, f"{name} belongs to no layer in LAYERS"


def test_modules_import_only_their_layer_or_below():
    violations = []
    for path in engine_modules():
        name = module_name(path)
        own = layer_of(name)
        tree = ast.parse(path.read_text(), str(path))
        for node, target in iter_imports(tree, name, path.name == "__init__.py"):
            if not target.startswith("engine"):
                continue
            rank = layer_of(target)
            if own is not None and rank is not None and rank > own:
                violations.append(f"{name}:{node.lineno} imports {target} (a higher layer)")
    assert not violations, "\n".join(violations)


def test_no_engine_imports_hidden_in_functions():
    hidden = []
    for path in engine_modules():
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(func):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "engine"
                    ):
                        hidden.append(f"{path.name}:{node.lineno}")
    assert not hidden, f"engine imports inside functions: {hidden}"


def test_storage_never_speaks_dynamodb():
    for path in (ENGINE / "storage").rglob("*.py"):
        text = path.read_text()
        for word in ("TableName", "AttributeValue", "DynamoDB"):
            assert word not in text, f"{path.name} mentions {word}"
