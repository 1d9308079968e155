"""What people run: the CLI, the accuracy harness, the sherpa-onnx baseline, the streaming
client and the virtual-clock simulation."""
