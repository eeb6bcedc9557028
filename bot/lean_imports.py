"""The Rasa server imports TensorFlow only when its model has a component that uses it.

Rasa 3.6 imports TensorFlow (450 MiB resident with the JAX it pulls in, 3-9 s on this
machine) in every process, whatever the pipeline, by two roads:

- `rasa.nlu.extractors.extractor`, which every policy's featurizer imports, imports
  `rasa.utils.train_utils`, whose first lines import TensorFlow's Keras callbacks: its body
  runs here at the first use of one of its own names instead (a PEP 562 module `__getattr__`);
- loading a model resolves the classes of its training graph as well as those of the graph
  it predicts with, and the training graph's recipe validator imports DIETClassifier,
  TEDPolicy, ResponseSelector…: the server never trains, so it reads the prediction graph only.

Xiaoshen's pipeline (config.yml) has no TensorFlow component, so TensorFlow is never loaded. A
model with one still works: its classes import TensorFlow when the prediction graph loads them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import symtable
import sys
from types import ModuleType
from typing import Any

DEFERRED = ("rasa.utils.train_utils",)


def defined_names(source: str, filename: str) -> frozenset[str]:
    """Names a module's body binds (defined, assigned or imported), read without running it."""
    table = symtable.symtable(source, filename, "exec")
    return frozenset(symbol.get_name() for symbol in table.get_symbols()
                     if symbol.is_assigned() or symbol.is_imported())


class DeferredLoader(importlib.abc.Loader):
    """Runs the module's body at the first use of a name it defines. Other look-ups (pickle
    and skops ask every loaded module for a ufunc's name) leave it unloaded."""

    def __init__(self, loader: importlib.machinery.SourceFileLoader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        names = defined_names(self.loader.get_source(module.__name__) or "",
                              self.loader.get_filename(module.__name__))

        def load_on_use(name: str) -> Any:
            if name not in names:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            del module.__dict__["__getattr__"]
            self.loader.exec_module(module)
            return getattr(module, name)

        module.__getattr__ = load_on_use  # type: ignore[method-assign]


class DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the modules `names` where Python would, and defers their bodies."""

    def __init__(self, names: tuple[str, ...] = DEFERRED) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = DeferredLoader(spec.loader)
        return spec


def predict_graph_only() -> None:
    """Model metadata read without the training graph (which only `rasa train` runs)."""
    from rasa.engine.storage.storage import ModelMetadata

    read = ModelMetadata.from_dict.__func__  # type: ignore[attr-defined]

    def from_dict(cls: type[ModelMetadata], serialized: dict[str, Any]) -> ModelMetadata:
        return read(cls, {**serialized, "train_schema": {"nodes": {}}})

    ModelMetadata.from_dict = classmethod(from_dict)  # type: ignore[method-assign,assignment]


def install() -> None:
    """Before anything of Rasa is imported."""
    if any(name in sys.modules for name in DEFERRED):
        raise RuntimeError("install() must run before Rasa is imported")
    sys.meta_path.insert(0, DeferringFinder())
    predict_graph_only()
