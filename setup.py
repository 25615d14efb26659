"""vproc: video enhancement through graphs of CUDA/CPU nodes."""

from setuptools import find_packages, setup

setup(
    name="vproc",
    version="0.1.0",
    description="Enhance video files and live streams: temporal super-resolution, low-light, "
                "denoising and skeletons as CUDA/CPU nodes in YAML graphs",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["vproc", "vproc.*"]) + ["vproc.native"],
    package_dir={"vproc.native": "native"},  # native/*.cu is installed as vproc/native/*.cu
    # vproc/weights/: the project's trained weights, their settings (.json) and model card
    package_data={"vproc": ["weights/*.pt", "weights/*.json", "weights/README.md"], "vproc.native": ["*.cu", "*.cuh"]},
    include_package_data=True,
    install_requires=[
        "av>=14",
        "numpy>=1.26",
        "numba>=0.60",
        "opencv-python-headless>=4.9",
        "torch>=2.2",
        "ffmpeg-python>=0.2",
        # typer 0.29 converts every option through pydantic when a command line is parsed:
        # +130 ms on every vproc command here (a 2-frame transcode, best of 10: 0.52 s with
        # 0.29.2, 0.39 s with 0.28.0), 2% of the passthrough benchmark's whole command.
        "typer>=0.12,<0.29",
        "pyyaml>=6",
        "imageio-ffmpeg>=0.5",
        "rich>=13",
    ],
    extras_require={
        "cuda": ["cupy-cuda13x>=13.6"],  # CUDA 13 drivers; use cuda12 for CUDA 12
        "cuda12": ["cupy-cuda12x>=13.6"],
        # What mediapipe 0.10.14 needs at run time for the pose and selfie-segmentation solutions.
        # mediapipe itself goes in with `pip install --no-deps mediapipe==0.10.14` (README: Pose):
        # its declared requirements pull in jax/jaxlib, sounddevice and opencv-contrib-python, a
        # second OpenCV build that needs libGL, none of which these solutions use.
        "pose": ["absl-py>=1.0", "attrs>=19.1.0", "flatbuffers>=2.0", "protobuf>=4.25.3,<5",
                 "matplotlib>=3.5", "onnxruntime>=1.17"],
        # mediapipe 0.10.14 (the pose extra) needs protobuf 4: Ray 2.60 did not start with it,
        # Ray 2.40 does (checked), so the two extras install together up to 2.40.
        "ray": ["ray>=2.9,<2.41"],
        "test": ["pytest>=8", "pytest-timeout>=2", "scikit-image>=0.22", "onnx>=1.15"],
    },
    entry_points={"console_scripts": ["vproc=vproc.cli:main"]},
)
