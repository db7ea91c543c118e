"""Secret values encrypted with age, so a bundle can cross an air gap without exposing them.

Only values are encrypted: each entry of a Secret's ``data`` and ``stringData``, and its
``kubectl.kubernetes.io/last-applied-configuration`` annotation (which ``kubectl apply`` fills
with the whole Secret, data included). Kinds, names, labels, owners and key names stay readable,
so a bundle can still be reviewed, diffed, verified and inspected without any key. Every value
is its own age message, stored as ``age:<base64 of the binary age message>``; the ciphertext of
``data`` is the decoded secret bytes, so ``age -d`` on one value yields what the Secret holds::

    data:
      value: age:YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB...

One message per value rather than one per Secret: a key name never depends on decrypting, one
value can be checked with the age command-line tool alone, and X25519 costs about 0.1 ms and
~200 bytes a message, which a bundle of thousands of Secrets does not notice.

A passphrase is expensive in age (scrypt: about a second per message), so it does not encrypt
values. The export makes a fresh X25519 identity for the bundle, encrypts the values to it as
to any other recipient, and stores that identity in the manifest encrypted with the passphrase
(``encryption.passphraseIdentity``, an armored age message): one scrypt per export and per
import, whatever the bundle's size, and still plain age on both levels.

age picks a random file key for every message, so an encrypted bundle is never byte-identical
to an earlier export of the same source, and its digest differs each time. Checksums and the
digest are computed over the encrypted files, so ``verify`` needs no key.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage

from movekit.bundle.manifest import ObjectEntry
from movekit.bundle.reader import Bundle
from movekit.errors import PrecheckFailed, UsageError
from movekit.refs import GroupKind, ObjectRef

SCHEME = "age"
VALUE_PREFIX = "age:"
SECRET = GroupKind("", "Secret")
# kubectl apply copies the whole object, data included, into this annotation.
SEALED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
# Identity and passphrase files are a few lines; anything larger is not one.
_MAX_KEY_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class SecretKeys:
    """What an import may decrypt with: age identity files and/or a passphrase file."""

    identity_files: tuple[Path, ...] = ()
    passphrase_file: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.identity_files) or self.passphrase_file is not None


# -- keys from the command line --------------------------------------------------------------


def parse_recipient(text: str) -> Any:
    """An age X25519 recipient (``age1...``); UsageError naming it if it is not one."""
    try:
        return pyrage.x25519.Recipient.from_str(text.strip())
    except pyrage.RecipientError:
        raise UsageError(f"--encrypt-to: {text!r} is not an age X25519 recipient "
                         "(age1..., as age-keygen prints it)") from None


def _read_key_file(path: Path, flag: str) -> str:
    """The text of a small regular file; errors name the file, never what it holds."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise UsageError(f"{flag} {path}: cannot be read ({err.strerror or err})") from None
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{flag} {path}: not a regular file")
        data = stream.read(_MAX_KEY_FILE_BYTES + 1)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise UsageError(f"{flag} {path}: over {_MAX_KEY_FILE_BYTES // 1024} KiB; "
                         "not a key file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{flag} {path}: not UTF-8 text") from None


def read_passphrase(path: Path) -> str:
    """The first line of ``path``, without its line ending."""
    first = _read_key_file(path, "--passphrase-file").split("\n", 1)[0].removesuffix("\r")
    if not first:
        raise UsageError(f"--passphrase-file {path}: the first line is empty")
    return first


def read_identities(path: Path) -> list[Any]:
    """The age X25519 identities in a file as age-keygen writes it (``#`` comments allowed)."""
    text = _read_key_file(path, "--identity")
    if text.startswith(("age-encryption.org/", "-----BEGIN AGE ENCRYPTED FILE-----")):
        raise UsageError(f"--identity {path}: a passphrase-protected identity file; "
                         "decrypt it with age -d first")
    identities = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(pyrage.x25519.Identity.from_str(line))
        except pyrage.IdentityError:
            raise UsageError(f"--identity {path}: line {number} is not an age identity "
                             "(AGE-SECRET-KEY-1...)") from None
    if not identities:
        raise UsageError(f"--identity {path}: holds no age identity (AGE-SECRET-KEY-1...)")
    return identities


# -- export ---------------------------------------------------------------------------------


def is_secret(ref: ObjectRef) -> bool:
    return ref.group_kind == SECRET


class SecretSealer:
    """Encrypts the values of Secrets to X25519 recipients and/or a passphrase."""

    def __init__(self, recipients: Sequence[str] = (), passphrase: str | None = None) -> None:
        if not recipients and passphrase is None:
            raise ValueError("a sealer needs a recipient or a passphrase")
        keys = {str(key): key for key in map(parse_recipient, recipients)}  # canonical, unique
        self.recipients = tuple(keys)
        self._keys = list(keys.values())
        self._passphrase_identity: str | None = None
        if passphrase is not None:
            bundle_key = pyrage.x25519.Identity.generate()
            self._keys.append(bundle_key.to_public())
            wrapped = pyrage.passphrase.encrypt(str(bundle_key).encode("ascii"), passphrase,
                                                armored=True)
            self._passphrase_identity = bytes(wrapped).decode("ascii")

    def manifest_record(self) -> dict[str, Any]:
        """The manifest's ``encryption``: public facts only (the identity is wrapped)."""
        return {"scheme": SCHEME, "recipients": list(self.recipients),
                "passphrase": self._passphrase_identity is not None,
                "passphraseIdentity": self._passphrase_identity}

    def seal(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """``obj`` with its Secret values encrypted; any other object is returned as it is."""
        ref = ObjectRef.of(obj)
        sealed = dict(obj)
        if not is_secret(ref):
            return sealed
        for field_name, decode in (("data", _base64_bytes), ("stringData", _text_bytes)):
            values = obj.get(field_name)
            if isinstance(values, Mapping):
                sealed[field_name] = {
                    key: self._seal(decode(value, ref, f"{field_name}.{key}"))
                    for key, value in values.items()
                }
        metadata = obj.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
        if isinstance(annotations, Mapping) and any(a in annotations for a in SEALED_ANNOTATIONS):
            assert isinstance(metadata, Mapping)
            sealed["metadata"] = {**metadata, "annotations": {
                key: (self._seal(_text_bytes(value, ref, f"annotation {key}"))
                      if key in SEALED_ANNOTATIONS else value)
                for key, value in annotations.items()
            }}
        return sealed

    def _seal(self, plain: bytes) -> str:
        message = bytes(pyrage.encrypt(plain, self._keys))
        return VALUE_PREFIX + base64.b64encode(message).decode("ascii")


def _base64_bytes(value: Any, ref: ObjectRef, where: str) -> bytes:
    try:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
    except binascii.Error:
        pass
    raise PrecheckFailed(f"{ref}: {where} is not base64, as a Secret's data must be; "
                         "it cannot be encrypted")


def _text_bytes(value: Any, ref: ObjectRef, where: str) -> bytes:
    if not isinstance(value, str):
        raise PrecheckFailed(f"{ref}: {where} is not a string; it cannot be encrypted")
    return value.encode("utf-8")


def sealer_for(recipients: Sequence[str], passphrase_file: Path | None) -> SecretSealer | None:
    """The sealer the export flags ask for, or None when they ask for no encryption."""
    if not recipients and passphrase_file is None:
        return None
    for recipient in recipients:
        parse_recipient(recipient)  # every bad one is reported before a passphrase is asked for
    passphrase = read_passphrase(passphrase_file) if passphrase_file is not None else None
    return SecretSealer(recipients, passphrase)


# -- import ---------------------------------------------------------------------------------


class _Undecryptable(Exception):
    """A value did not decrypt; carries where, never what."""


class SecretUnsealer:
    """Decrypts the Secret values of a bundle whose manifest records age encryption."""

    def __init__(self, encryption: Mapping[str, Any], identities: Sequence[Any] = (),
                 passphrase: str | None = None) -> None:
        self._keys = list(identities)
        if passphrase is not None:
            wrapped = encryption.get("passphraseIdentity")
            if not isinstance(wrapped, str):
                raise PrecheckFailed("--passphrase-file: this bundle was not encrypted with a "
                                     f"passphrase; {describe(encryption)}; pass --identity")
            try:
                opened = bytes(pyrage.passphrase.decrypt(wrapped.encode("ascii"), passphrase))
                self._keys.append(pyrage.x25519.Identity.from_str(opened.decode("ascii").strip()))
            except (pyrage.DecryptError, pyrage.IdentityError, UnicodeError):
                raise PrecheckFailed("--passphrase-file: the passphrase does not open this "
                                     "bundle's Secrets; nothing was written") from None

    def unseal(self, entry: ObjectEntry, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` with its Secret values decrypted; PrecheckFailed naming the Secret if not."""
        if not is_secret(entry.ref):
            return obj
        try:
            return self._unseal(obj)
        except _Undecryptable as failure:
            raise PrecheckFailed(f"{entry.ref}: {failure} cannot be decrypted with the given "
                                 "--identity or --passphrase-file; nothing was written") from None

    def _unseal(self, obj: dict[str, Any]) -> dict[str, Any]:
        for field_name, encode in (("data", _as_base64), ("stringData", _as_text)):
            values = obj.get(field_name)
            if isinstance(values, Mapping):
                opened = {}
                for key, value in values.items():
                    where = f"{field_name}.{key}"
                    opened[key] = encode(self._open(value, where), where)
                obj[field_name] = opened
            elif values is not None:
                raise _Undecryptable(field_name)
        annotations = (obj.get("metadata") or {}).get("annotations")
        if isinstance(annotations, dict):
            for key in SEALED_ANNOTATIONS:
                if key in annotations:
                    where = f"annotation {key}"
                    annotations[key] = _as_text(self._open(annotations[key], where), where)
        return obj

    def _open(self, value: Any, where: str) -> bytes:
        if not isinstance(value, str) or not value.startswith(VALUE_PREFIX):
            raise _Undecryptable(f"{where} (not an {VALUE_PREFIX} value)")
        try:
            message = base64.b64decode(value.removeprefix(VALUE_PREFIX), validate=True)
            return bytes(pyrage.decrypt(message, self._keys))
        except (binascii.Error, pyrage.DecryptError):
            raise _Undecryptable(where) from None


def _as_base64(plain: bytes, _where: str) -> str:
    return base64.b64encode(plain).decode("ascii")


def _as_text(plain: bytes, where: str) -> str:
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise _Undecryptable(f"{where} (not UTF-8 once decrypted)") from None


def describe(encryption: Mapping[str, Any] | None) -> str:
    """One line on how a bundle's Secret values are protected; never a key."""
    if not encryption:
        return "Secret values are not encrypted"
    recipients = list(encryption.get("recipients") or [])
    to = [f"{len(recipients)} recipient(s) ({', '.join(recipients)})"] if recipients else []
    if encryption.get("passphrase"):
        to.append("a passphrase")
    return f"Secret values are encrypted with {encryption.get('scheme')} to {' and '.join(to)}"


def unlock(bundle: Bundle, keys: SecretKeys) -> None:
    """Make ``bundle.load`` return decrypted Secrets, after checking that every encrypted Secret
    decrypts with ``keys``: a missing or wrong key is refused before the target is touched."""
    encryption = bundle.parsed_manifest.encryption
    if not encryption:
        return
    if not keys:
        raise PrecheckFailed(f"{describe(encryption)}; pass --identity FILE or "
                             "--passphrase-file FILE to import them; nothing was written")
    identities = [identity for path in keys.identity_files for identity in read_identities(path)]
    passphrase = read_passphrase(keys.passphrase_file) if keys.passphrase_file else None
    unsealer = SecretUnsealer(encryption, identities, passphrase)
    for entry in bundle.entries:
        if is_secret(entry.ref):
            unsealer.unseal(entry, bundle.load(entry))
    bundle.unseal_with(unsealer.unseal)

