"""The auditor's page: live access the repository cannot explain (``--live``,
with its drift kind), read from the loopback clouds through the real SDKs,
and an access matrix that fits the page width in a real browser."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import NOW, PROJECT, make_repo


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def drifted(sandbox, tmp_path):
    """main applied, then a console grant (extra) and a stripped expiry condition (changed)."""
    sandbox.reseed()
    env = {**os.environ, **sandbox.env(), "PYTHONPATH": str(PROJECT), "ACCESSCTL_NOW": NOW}
    for var in ("GITHUB_TOKEN", "GITHUB_REPOSITORY"):
        env.pop(var, None)
    repo = make_repo(tmp_path / "access")
    assert repo.run_process("apply", env=env).code == 0
    sandbox.aws.client("iam", "111111111111").add_user_to_group(GroupName="developers",
                                                               UserName="heidi@acme.example")
    policy = sandbox.gcp.policy("acme-data-prod")
    for b in policy["bindings"]:
        if b["role"] == "roles/bigquery.dataViewer":
            b.pop("condition")
    sandbox.gcp.seed_policy("acme-data-prod", policy["bindings"])
    return repo, env


def test_live_section_lists_unexplained_access_with_its_drift_kind(drifted):
    repo, env = drifted
    r = repo.run_process("audit", "report", "--live", "--format", "json", env=env)
    assert r.code == 0, r.err
    live = {(f["drift"], f["principal"], f["entitlement"]) for f in json.loads(r.out)["live"]}
    assert ("extra", "user:heidi@acme.example", "developers") in live
    assert ("changed", "user:erin@acme.example", "roles/bigquery.dataViewer") in live
    page = repo.run_process("audit", "report", "--live", "--format", "html", env=env).out
    section = page[page.index('<section id="live">'):page.index('<section id="targets">')]
    assert "Live access the repository cannot explain" in section
    assert re.search(r'<td class="drift-extra">extra</td><td>aws/acme-dev</td><td class="principal">'
                     r'user:heidi@acme.example</td>', section), section
    assert '<td class="drift-changed">changed</td><td>gcp/acme-data-prod</td>' in section
    assert "no request on main grants this" in section


def test_without_live_the_page_says_the_clouds_were_not_read(repo):
    page = repo.run_process("audit", "report", "--format", "html").out
    section = page[page.index('<section id="live">'):page.index('<section id="targets">')]
    assert "The clouds were not read" in section and "--live" in section


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it as root)")
def test_the_access_matrix_fits_the_page_width(repo, tmp_path):
    """Measured by the browser: the page's own CSP forbids scripts, so the
    measuring copy swaps it for one allowing this inline script only."""
    page = repo.run_process("audit", "report", "--format", "html").out
    assert 'class="matrix"' in page
    probe = ("<script>addEventListener('load', () => { const m = document.querySelector('table.matrix');"
             "const b = document.querySelector('main').getBoundingClientRect();"
             "const r = m.getBoundingClientRect();"
             "document.body.setAttribute('data-fit', (r.right <= b.right + 1 && "
             "document.documentElement.scrollWidth <= innerWidth) ? 'yes' : 'no:' + r.right + '>' + b.right);"
             "});</script>")
    measured = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace("</body>",
                                                                                             probe + "</body>")
    for width in (1280, 900):
        f = tmp_path / f"report-{width}.html"
        f.write_text(measured)
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--window-size={width},900", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=3000", "--dump-dom", f.as_uri()],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        fit = re.search(r'data-fit="([^"]*)"', proc.stdout)
        assert fit and fit.group(1) == "yes", (width, fit and fit.group(1))
