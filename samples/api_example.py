"""Using vproc from Python: load a graph, override a parameter, run it, read the statistics.

    python samples/api_example.py samples/sample.mp4 out/half.mp4
"""

import sys

import vproc

src, dst = sys.argv[1], sys.argv[2]
graph = vproc.load_graph("graphs/proxy.yaml", ["small.scale=0.5", "output.crf=26"])
print(graph.describe())
stats = vproc.run(graph, src, dst)
print(f"{stats.frames_in} frames in, {stats.frames_out} out, {stats.fps:.1f} fps")
