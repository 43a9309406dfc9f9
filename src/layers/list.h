// Every layer type, one line each (the section name is set in its ops).
DT_LAYER(activation)
