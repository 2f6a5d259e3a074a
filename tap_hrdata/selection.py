"""A speed fix for small records: the SDK's selection mask, each answer computed once.

And when the mask selects every property (the usual catalog), the SDK's selection pass
over each record can remove nothing, so :attr:`MemoSelectionMask.selects_everything` lets
the stream skip it (see ``VendorStream._generate_record_messages``).

The SDK checks every property of every record against the selection mask, nested ones
included (all of ``raw``), and its mask answers an unlisted breadcrumb by walking up to
its listed ancestor on every lookup. Measured on the benchmark's 8,000 small vacancies
(BENCHMARKS.md, profile of commit 558c415): a fifth of the sync time before this class,
a tenth after it (the sync 20% faster). The answers are the same, memoised.
"""

from __future__ import annotations

from singer_sdk.singerlib.catalog import SelectionMask
from typing_extensions import override


class MemoSelectionMask(SelectionMask):
    """The SDK's selection mask, remembering the answers it inherits from a parent."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        #: Every breadcrumb the catalog lists is selected: every other one inherits True from
        #: its listed ancestor (or the stream), so no property of any record is deselected.
        self.selects_everything = all(self.values())

    @override
    def __missing__(self, breadcrumb: tuple[str, ...]) -> bool:
        selected = super().__missing__(breadcrumb)
        self[breadcrumb] = selected
        return selected
