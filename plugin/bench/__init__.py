"""`ponder bench`: accuracy against compute on public benchmark data, measured with ponder's own workflows.

Modules, one job each:
  datasets  suites, loaders and each source's own correctness rule
  codegen   HumanEval as a search task (docstring examples as the only visible check)
  repairset the dev repair set: buggy projects repaired by model, mutations or both, hidden judges
  runner    suite × strategies × budgets × seeds through the workflows, with a progress bar
  store     resumable JSONL of per-item results
  stats     Wilson intervals, exact McNemar, pass@N oracle
  report    the summary table
  plot      accuracy vs generated tokens per item (PNG)

Submodules are imported where used so that ``ponder --help`` stays fast.
"""

SUITE_NAMES = ("gsm8k", "tatqa", "financemath", "theoremqa", "humanevalfix", "humaneval", "repair")
"""The suites `ponder bench --suite` accepts (`datasets.SUITES` defines them; kept here so that the
CLI's help does not import the verifiers). ``repair:<modes>`` narrows the repair suite to some of its
modes (model, mutations, both)."""
