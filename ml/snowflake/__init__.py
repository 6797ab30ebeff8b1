"""The Snowflake backend: session, data, the registered model, warehouse training and scoring.

Nothing here is imported by the ML core or the bot at start-up: the Snowflake libraries cost seconds
to import, so callers import these modules only when LIFEBOAT_BACKEND=snowflake. This package is also
shipped to Snowflake with the model (`code_paths`) and the training procedure (`imports`), so this
file must stay free of imports: `ml.snowflake.model` has to load with numpy, pandas and xgboost only.

Modules: `contract` (the model's SQL signature), `identifiers` (safe names), `errors`, `session`
(connections.toml -> Session), `objects` (the tables lifeboat creates: all DDL), `data`
(TITANIC_DATA in and out), `model` (the CustomModel that runs in the warehouse), `train` (the
training stored procedure), `retrain` (retraining runs in the warehouse), `runs` (the run lock and
run records in Snowflake tables), `scoring` (one-row SQL per answer, mv.run and SQL batch scoring),
`sql` (printable SQL), `channel` (does the package channel have what a model asks for),
`doctor` (`lifeboat doctor`'s checks).
"""
