"""Engines that run a graph over a file in segments.

:mod:`~vproc.engines.segments` cuts the input at keyframes, runs one segment with the normal
:class:`~vproc.runtime.Runtime` (warm-up and look-ahead frames decoded and discarded, so segment
boundaries do not show), and :mod:`~vproc.engines.join` joins the segment files with the source's
audio into the output. :mod:`~vproc.engines.resume` keeps the finished segments in a work folder
with a manifest, so a run that stopped goes on where it stopped. :mod:`~vproc.engines.local` runs
the segments one after another on this machine; :mod:`~vproc.engines.ray` runs them in parallel
as Ray tasks (the only module that imports Ray).
"""
