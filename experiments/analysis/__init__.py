"""Analysis of runs: KPIs, sensitivity, KPI regression and validation against published figures.
Imports the engines and the model, never reporting or the command line."""
