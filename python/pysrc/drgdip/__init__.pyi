"""Type hints of the drgdip package."""

from os import PathLike
from typing import Any, Dict, Mapping, Optional, Tuple, Union


from ._drgdip import DrgdipError as DrgdipError

_Path = Union[str, PathLike[str]]

CASE_COLUMNS: Tuple[str, ...]

class Scheme:
    last_counts: Dict[str, int]
    @property
    def label(self) -> str: ...
    def save(self, path: _Path) -> None: ...
    def group(
        self,
        table: Any,
        *,
        map_codes: bool = False,
        carry: bool = False,
        first_line: int = 2,
        threads: Optional[int] = None,
    ) -> Any: ...
    def explain(self, case: Mapping[str, Any], *, map_codes: bool = False) -> Dict[str, Any]: ...

class Catalog:
    last_counts: Dict[str, int]
    @property
    def label(self) -> str: ...
    def save(self, path: _Path) -> None: ...
    def dip_group(
        self,
        table: Any,
        *,
        carry: bool = False,
        first_line: int = 2,
        threads: Optional[int] = None,
    ) -> Any: ...
    def explain(self, case: Mapping[str, Any]) -> Dict[str, Any]: ...

class Policy:
    last_counts: Dict[str, int]
    def price(self, table: Any, *, threads: Optional[int] = None) -> Any: ...

def load_scheme(path: _Path, errata: Optional[_Path] = None) -> Scheme: ...
def load_catalog(path: _Path) -> Catalog: ...
def load_policy(path: _Path) -> Policy: ...
