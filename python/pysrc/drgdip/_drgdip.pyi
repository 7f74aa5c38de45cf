"""Type hints of the native module (PyO3). Use the wrappers in ``drgdip`` instead."""

from os import PathLike
from typing import List, Optional, Sequence, Tuple, Union

import pyarrow as pa

_Path = Union[str, PathLike[str]]

class DrgdipError(Exception):
    """A scheme, catalogue, policy or table drgdip could not use; the message is drgdip's."""

def case_columns() -> List[str]: ...
def group_header() -> List[str]: ...
def dip_header() -> List[str]: ...

class Scheme:
    @staticmethod
    def load(path: _Path, errata: Optional[_Path] = None) -> "Scheme": ...
    @property
    def label(self) -> str: ...
    def save(self, path: _Path) -> None: ...
    def group(
        self,
        table: pa.Table,
        map_codes: bool = False,
        carry: bool = False,
        first_line: int = 2,
        threads: Optional[int] = None,
    ) -> Tuple[pa.Table, List[Tuple[str, int]]]: ...
    def explain(self, values: Sequence[Optional[str]], map_codes: bool = False) -> str: ...

class Catalog:
    @staticmethod
    def load(path: _Path) -> "Catalog": ...
    @property
    def label(self) -> str: ...
    def save(self, path: _Path) -> None: ...
    def dip_group(
        self,
        table: pa.Table,
        carry: bool = False,
        first_line: int = 2,
        threads: Optional[int] = None,
    ) -> Tuple[pa.Table, List[Tuple[str, int]]]: ...
    def explain(self, values: Sequence[Optional[str]]) -> str: ...

class Policy:
    @staticmethod
    def load(path: _Path) -> "Policy": ...
    def price(
        self, table: pa.Table, threads: Optional[int] = None
    ) -> Tuple[pa.Table, Tuple[int, int, int]]: ...
