-- The warehouse database leadflow writes to, next to Airflow's metadata database.
create user leadflow with password 'leadflow';
create database leadflow owner leadflow;
