"""Content-safety classification: judge mode (P("Yes") under the safety policy) and reward mode (a trained reward
model's score), with thresholds calibrated on labelled data, and the evaluation sets' loaders and metrics."""
