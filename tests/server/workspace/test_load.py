"""Reading a request's files: inside the roots only, secrets, git-ignored, binary and oversize files refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from server.workspace import Limits, Workspace, WorkspaceError, load_files

pytestmark = pytest.mark.anyio


def tree(root: Path, files: dict[str, str | bytes]) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body)
    return Workspace.of([root], "the test's roots")


async def test_a_file_inside_the_roots_is_read_with_its_path_relative_to_the_root_and_its_hash(tmp_path: Path) -> None:
    space = tree(tmp_path, {"src/a.py": "print('a')\n"})
    (loaded,) = await load_files(space, ["src/a.py"], Limits())
    assert (loaded.path, loaded.text) == ("src/a.py", "print('a')\n")
    assert len(loaded.sha256) == 64


async def test_an_escape_names_the_roots_and_where_the_path_really_leads(tmp_path: Path) -> None:
    space = tree(tmp_path / "ws", {"a.txt": "a"})
    (tmp_path / "out.txt").write_text("out")
    with pytest.raises(WorkspaceError, match=r"outside the workspace.*the test's roots") as caught:
        await load_files(space, ["../out.txt"], Limits())
    assert str(tmp_path / "ws") in str(caught.value) and str(tmp_path / "out.txt") in str(caught.value)


async def test_a_symlink_inside_pointing_out_is_refused_after_resolving_it(tmp_path: Path) -> None:
    space = tree(tmp_path / "ws", {})
    (tmp_path / "secret").write_text("s")
    (tmp_path / "ws" / "inner").symlink_to(tmp_path / "secret")
    with pytest.raises(WorkspaceError, match="through a symlink"):
        await load_files(space, ["inner"], Limits())


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        ".env.local",
        "deploy/key.pem",
        "id_ed25519",
        ".aws/credentials",
        ".npmrc",
        "certs/site.p12",
        ".git/config",
    ],
)
async def test_secret_looking_files_are_never_sent(tmp_path: Path, name: str) -> None:
    space = tree(tmp_path, {name: "x"})
    with pytest.raises(WorkspaceError, match="looks like a secret"):
        await load_files(space, [name], Limits())


async def test_a_private_key_under_an_innocent_name_is_refused_by_its_header(tmp_path: Path) -> None:
    space = tree(tmp_path, {"notes.txt": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"})
    with pytest.raises(WorkspaceError, match="holds a private key"):
        await load_files(space, ["notes.txt"], Limits())


async def test_a_public_key_is_not_a_secret(tmp_path: Path) -> None:
    space = tree(tmp_path, {"id_ed25519.pub": "ssh-ed25519 AAAA"})
    assert (await load_files(space, ["id_ed25519.pub"], Limits()))[0].text == "ssh-ed25519 AAAA"


async def test_binary_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    space = tree(tmp_path, {"a.bin": b"\x00\x01", "b.txt": b"caf\xe9"})
    with pytest.raises(WorkspaceError, match="binary"):
        await load_files(space, ["a.bin"], Limits())
    with pytest.raises(WorkspaceError, match="not UTF-8"):
        await load_files(space, ["b.txt"], Limits())


async def test_a_file_over_the_size_limit_names_its_size_and_the_setting(tmp_path: Path) -> None:
    space = tree(tmp_path, {"big.txt": "x" * 2000})
    with pytest.raises(WorkspaceError, match=r"2,000 bytes, over the 1,000-byte limit.*maxFileBytes"):
        await load_files(space, ["big.txt"], Limits(max_file_bytes=1000))


async def test_a_glob_over_the_file_limit_says_how_many_it_matched_and_which_limit(tmp_path: Path) -> None:
    space = tree(tmp_path, {f"src/m{n}.py": "x" for n in range(7)})
    with pytest.raises(WorkspaceError, match=r"`src/\*.py` matches 7 files, over the limit of 5.*maxFiles"):
        await load_files(space, ["src/*.py"], Limits(max_files=5))


async def test_a_glob_expands_sorted_and_leaves_out_secrets_but_a_glob_matching_nothing_is_refused(
    tmp_path: Path,
) -> None:
    space = tree(tmp_path, {"b.py": "b", "a.py": "a", "sub/c.py": "c", ".env.py": "SECRET"})
    loaded = await load_files(space, ["**/*.py"], Limits())
    assert [file.path for file in loaded] == ["a.py", "b.py", "sub/c.py"]
    with pytest.raises(WorkspaceError, match="matches no file"):
        await load_files(space, ["*.rs"], Limits())


async def test_in_a_git_repository_ignored_files_are_refused_by_name_and_left_out_of_globs(tmp_path: Path) -> None:
    space = tree(tmp_path, {".gitignore": "build/\n*.log\n", "app.py": "ok", "build/out.py": "gen", "x.log": "l"})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(WorkspaceError, match="ignored by git"):
        await load_files(space, ["x.log"], Limits())
    loaded = await load_files(space, ["**/*.py"], Limits())
    assert [file.path for file in loaded] == ["app.py"]


async def test_a_directory_asks_for_a_glob_and_a_missing_file_names_the_workspace(tmp_path: Path) -> None:
    space = tree(tmp_path, {"src/a.py": "a"})
    with pytest.raises(WorkspaceError, match="is a directory"):
        await load_files(space, ["src"], Limits())
    with pytest.raises(WorkspaceError, match="no such file"):
        await load_files(space, ["nope.py"], Limits())


async def test_several_roots_show_each_path_under_its_roots_name(tmp_path: Path) -> None:
    tree(tmp_path / "one", {"a.py": "a"})
    tree(tmp_path / "two", {"b.py": "b"})
    space = Workspace.of([tmp_path / "one", tmp_path / "two"], "roots")
    loaded = await load_files(space, ["a.py", str(tmp_path / "two" / "b.py")], Limits())
    assert [file.path for file in loaded] == ["one/a.py", "two/b.py"]


async def test_a_glob_counts_its_files_against_the_limit_after_leaving_out_what_git_ignores(tmp_path: Path) -> None:
    vendored = {f"node_modules/pkg/f{n}.js": "vendored" for n in range(8)}
    space = tree(tmp_path, {".gitignore": "node_modules/\n", "app.py": "ok", "lib/util.py": "u", **vendored})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    loaded = await load_files(space, ["**/*"], Limits(max_files=5))
    assert [file.path for file in loaded] == [".gitignore", "app.py", "lib/util.py"]
    with pytest.raises(WorkspaceError, match=r"`\*\*/\*` matches 3 files, over the limit of 2.*maxFiles"):
        await load_files(space, ["**/*"], Limits(max_files=2))
