"""Regenerate tools/sandbox/data/github-openapi-subset.json from GitHub's OpenAPI description.

Source: ``descriptions/api.github.com/dereferenced/api.github.com.deref.json``
of https://github.com/github/rest-api-description, as the npm package
``@octokit/openapi`` ships it (``generated/api.github.com.deref.json``)::

    npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python tools/sandbox/data/regen_github_openapi.py package/generated/api.github.com.deref.json

Keeps, for each operation the sandbox serves (the keys of
github-permissions.json), the JSON schema of each documented response,
converted from OpenAPI 3.0 (``nullable: true``) to JSON Schema (a ``null``
type), with prose (descriptions, examples) dropped to keep the file small.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "github-openapi-subset.json"
DROP = {"description", "example", "examples", "title", "externalDocs"}


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema draft 2020-12 (``nullable`` becomes a null type)."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k not in DROP and k != "nullable"}
    if "properties" in node:  # property names are data, not keywords: keep "description" etc.
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    used = json.loads((HERE / "github-permissions.json").read_text(encoding="utf-8"))["operations"]
    ops: dict[str, Any] = {}
    for key in sorted(used):
        method, path = key.split(" ", 1)
        op = spec["paths"][path][method.lower()]
        responses = {}
        for status, resp in op["responses"].items():
            schema = ((resp.get("content") or {}).get("application/json") or {}).get("schema")
            responses[status] = to_json_schema(schema) if schema is not None else None
        ops[key] = {"operationId": op["operationId"], "responses": responses}
    OUT.write_text(json.dumps({"source": "github/rest-api-description api.github.com.deref.json",
                               "version": spec["info"]["version"], "operations": ops},
                              sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(ops)} operations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
