"""The engines: cadCAD, radCAD and the vectorized engine behind one registry (`registry.py`),
the frame contract (`base.py`), KPI-only batch streaming (`streaming.py`) and Ray
(`ray_cluster.py`). They import the model and nothing else of `experiments`."""
