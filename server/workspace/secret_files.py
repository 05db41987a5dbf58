"""Files that look like secrets, by name and place (and a private key's header in the first bytes)."""

from __future__ import annotations

import fnmatch
from pathlib import PurePath

#: file names (glob patterns, case-insensitive) that hold secrets
SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.asc",
    "*.gpg",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_*_sk",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".htpasswd",
    "credentials",
    "credentials.json",
    "credentials.yaml",
    "credentials.yml",
    "credentials.toml",
    "credentials.csv",
    "secrets.json",
    "secrets.yaml",
    "secrets.yml",
    "secrets.toml",
    "*.secret",
    "*.secrets",
    "service-account*.json",
    "*.tfvars",
    "terraform.tfstate*",
)
#: directories whose files are credential stores (`.git/config` can hold a remote's token)
SECRET_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".password-store", "gcloud", ".git"})
_KEY_MARKERS = (b"-----BEGIN", b"PRIVATE KEY-----")


def secret_reason(path: PurePath, head: bytes = b"") -> str | None:
    """Why `path` looks like a secret (None when it does not); `head` is its first bytes, if read."""
    name = path.name.lower()
    if name.endswith(".pub"):
        return None
    for pattern in SECRET_NAMES:
        if fnmatch.fnmatchcase(name, pattern):
            return f"its name matches `{pattern}`"
    for part in path.parts[:-1]:
        if part.lower() in SECRET_DIRS:
            return f"it is inside `{part}/`, a credential store"
    if all(marker in head for marker in _KEY_MARKERS):
        return "it holds a private key"
    return None
