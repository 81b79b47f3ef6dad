"""The end-to-end job: prompts -> pairs -> AI feedback -> reward model -> evaluation -> report."""
