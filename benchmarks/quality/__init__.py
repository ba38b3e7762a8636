"""The Fashion-MNIST quality benchmark's parts (`benchmarks/fashion_mnist.py`
runs them): the rows (`ablations.json`), the settings (`Budget`), the data,
pretraining through the package's job, scores through its evaluation API,
and the report."""
