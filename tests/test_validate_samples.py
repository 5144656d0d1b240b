from conftest import PROJECT


def test_every_sample_request_validates(repo, capsys):
    result = repo.run("validate", capsys=capsys)
    assert result.code == 0, result.out + result.err
    assert "valid" in result.out


def test_every_sample_has_schema_line():
    for path in (PROJECT / "requests").rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        schema = (path.parent / first.split("=", 1)[1]).resolve()
        assert schema.is_file(), f"{path}: schema path {schema} does not exist"
