DROP TABLE IF EXISTS app_instances;
DROP TABLE IF EXISTS dead_letters;
