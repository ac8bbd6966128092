"""synthmed: labelled synthetic medical imaging datasets, made by physics, measured for use.

>>> import synthmed
>>> spec = synthmed.load_spec("examples/specs/chest_xray.yaml")   # doctest: +SKIP
>>> out = synthmed.generate(spec, "out/", count=8)                 # doctest: +SKIP
>>> for sample in synthmed.open_dataset(out):                      # doctest: +SKIP
...     print(sample.labels.classes)
"""

from synthmed.errors import OutputError, SpecError, SynthmedError
from synthmed.sample import Box, Labels, Provenance, Sample

__version__ = "0.1.0"

__all__ = ["Box", "Labels", "Provenance", "Sample", "SynthmedError", "SpecError",
           "OutputError", "edit", "generate", "load_spec", "open_dataset", "__version__"]


def __getattr__(name):  # lazy: keep `import synthmed` fast
    if name == "generate":
        from synthmed.run.local import generate
        return generate
    if name == "load_spec":
        from synthmed.spec import load_spec
        return load_spec
    if name == "edit":
        from synthmed.edit import edit
        return edit
    if name == "open_dataset":
        from synthmed.dataset import open_dataset
        return open_dataset
    raise AttributeError(f"module 'synthmed' has no attribute {name!r}")
