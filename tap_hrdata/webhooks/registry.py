"""The registry of webhook subscriptions: ``webhooks/{vendor}/hooks.json`` under ``files_storage_url``.

Talentsoft documents no listing of subscriptions, so the hook ids the subscription CLI
got are kept here (``tap-hrdata-webhooks talentsoft list`` reads them). URLs are stored
with the webhook secret masked: the registry is no place for a secret.
"""

from __future__ import annotations

import json
import typing as t

if t.TYPE_CHECKING:
    from tap_hrdata.storage import FileStorage

FOLDER = "webhooks"
FILE_NAME = "hooks.json"
MASK = "***"


def masked(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    return text.replace(secret, MASK) if secret else text


class HookRegistry:
    """The subscriptions of one vendor, as a small JSON file (written atomically)."""

    def __init__(self, storage: FileStorage, vendor: str) -> None:
        self.storage = storage
        self.vendor = vendor
        self.segments = (FOLDER, vendor, FILE_NAME)

    def hooks(self) -> list[dict[str, t.Any]]:
        """Every subscription recorded, oldest first (an unreadable registry raises ValueError)."""
        path = self.storage.key_path(*self.segments)
        if not self.storage.fs.exists(path):
            return []
        payload = json.loads(self.storage.fs.cat_file(path))
        hooks = payload.get("hooks") if isinstance(payload, dict) else None
        if not isinstance(hooks, list):
            msg = f"{self.storage.uri(path)} is not a hook registry"
            raise ValueError(msg)  # noqa: TRY004  # a bad file, not a bad argument
        return [hook for hook in hooks if isinstance(hook, dict)]

    def _write(self, hooks: list[dict[str, t.Any]]) -> None:
        payload = json.dumps({"vendor": self.vendor, "hooks": hooks}, indent=2, sort_keys=True).encode() + b"\n"
        self.storage.write(self.segments, [payload])

    def add(self, hook: dict[str, t.Any]) -> None:
        """Record a new subscription (replacing one of the same id)."""
        hooks = [known for known in self.hooks() if known.get("hook_id") != hook["hook_id"]]
        self._write([*hooks, hook])

    def remove(self, hook_id: str) -> bool:
        """Forget a subscription; whether it was recorded."""
        hooks = self.hooks()
        kept = [hook for hook in hooks if hook.get("hook_id") != hook_id]
        if len(kept) != len(hooks):
            self._write(kept)
        return len(kept) != len(hooks)
