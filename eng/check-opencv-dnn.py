#!/usr/bin/env python3
# Runs every exported model listed in FOLDER/manifest.json through OpenCV's DNN module (cv2.dnn.readNetFromONNX) at batch 1
# and at the full batch of the stored input, and prints one JSON line per (model, batch) with the largest absolute difference
# from the probabilities ONNX Runtime gave (stored next to it), the OpenCV error, or the signal that killed OpenCV (each run is a
# child process, since OpenCV 4.6 can die of SIGFPE in its shape inference). Used by
# test/Microsoft.ML.Distillation.Tests/Onnx/OpenCvDnnTests.cs where Debian's python3-opencv is installed.
#   python3 eng/check-opencv-dnn.py FOLDER
import json
import subprocess
import sys


def run_one(folder, name, batch):
    import cv2
    import numpy as np

    with open(f"{folder}/manifest.json") as f:
        model = next(m for m in json.load(f) if m["name"] == name)
    shape = model["shape"]
    pixels = np.fromfile(f"{folder}/{model['input']}", dtype=np.float32).reshape(shape)
    expected = np.fromfile(f"{folder}/{model['expected']}", dtype=np.float32).reshape(shape[0], -1)
    net = cv2.dnn.readNetFromONNX(f"{folder}/{model['file']}")
    try:
        net.setInput(np.ascontiguousarray(pixels[:batch]))
        probabilities = net.forward("probabilities").reshape(batch, -1)
        result = {"maxdiff": float(np.abs(probabilities - expected[:batch]).max())}
    except cv2.error as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        result = {"error": lines[-1][:400] if lines else "cv2.error"}
    print(json.dumps(result), flush=True)


def main(folder):
    import cv2

    with open(f"{folder}/manifest.json") as f:
        manifest = json.load(f)
    print(json.dumps({"opencv": cv2.__version__}), flush=True)
    for model in manifest:
        for batch in (1, model["shape"][0]):
            child = subprocess.run([sys.executable, __file__, folder, model["name"], str(batch)], capture_output=True, text=True)
            line = {"name": model["name"], "batch": batch}
            if child.returncode == 0 and child.stdout.strip():
                line.update(json.loads(child.stdout.strip().splitlines()[-1]))
            elif child.returncode < 0:
                line["error"] = f"OpenCV died of signal {-child.returncode}"
            else:
                line["error"] = (child.stderr.strip().splitlines() or ["exit code " + str(child.returncode)])[-1][:400]
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4:
        run_one(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1])
