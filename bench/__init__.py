"""The benchmark and its tools: how fast Neural Canvas trains, reads drawings and loads; the app never imports it.

    python -m bench --quick         # every section at tiny sizes, in a minute or so (the tests run it)
    python -m bench                 # the full measurement behind the README's tables (about 17 minutes)
    python -m bench.drawing         # how well each architecture reads digits drawn on the canvas

The modules, one idea each: `settings` (modes and targets), `machine` (CPU, versions, memory), `stats`,
`common` (what the sections share), the sections `training`, `prediction`, `memory`, `accuracy`, `browser`,
`class_load` and `cost` (time and memory against data size and depth, drawn by `plot`), `report` (the README
tables), `cli` (running them all), `drawing` (the drawn-digit benchmark), `gpu` (the GPU column,
`python -m bench.gpu`) and `app_server` (the app as a subprocess, for the browser section and the real-browser
tests).
"""
