"""Built-in node kinds: the explicit list of where each one lives.

A kind's module is imported when a graph first uses it (or ``vproc nodes`` lists them all), so a
run pays only for the libraries its own nodes need: a resize graph never imports torch.
"""

BUILTIN = {
    "convert": "vproc.nodes.convert",
    "deinterlace": "vproc.nodes.deinterlace",
    "denoise": "vproc.nodes.denoise",
    "ffmpeg": "vproc.nodes.avfilter",
    "lowlight": "vproc.nodes.lowlight",
    "overlay": "vproc.nodes.overlay",
    "pose": "vproc.nodes.pose",
    "resize": "vproc.nodes.resize",
    "skeleton": "vproc.nodes.skeleton",
    "stack": "vproc.nodes.stack",
    "vsr": "vproc.nodes.vsr",
}
