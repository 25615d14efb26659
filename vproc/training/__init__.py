"""Training of the project's own network weights (``vproc train <model>``).

No weights are downloaded at run time: each network in :mod:`vproc.models` is trained here, with a
fixed seed, on the data in ``../shared/data`` (never committed), and the result is shipped in
``vproc/weights/`` with a model card. These modules import torch; the CLI imports them only inside
the ``train`` commands.
"""
