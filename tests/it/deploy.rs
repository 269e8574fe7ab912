//! The deployment files, checked without a Docker engine: the compose file parses, has the
//! three services on the documented ports, and every file it and the Dockerfile refer to exists.

use crate::common::repo;

fn compose() -> serde_yaml::Value {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn compose_has_the_three_services_on_their_ports() {
    let compose = compose();
    let services = compose["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["source-db", "target-db", "ferry", "scheduler", "executor-1", "executor-2", "cluster-client"]);
    // The cluster's services only start with `--profile cluster`, from a distributed build.
    for name in &names[3..] {
        assert_eq!(compose["services"][*name]["profiles"][0], "cluster", "{name}");
        assert_eq!(compose["services"][*name]["image"], "ferry-distributed", "{name}");
    }
    assert_eq!(compose["services"]["scheduler"]["build"]["args"]["FEATURES"], "distributed");
    let ports = |service: &str| -> Vec<String> {
        compose["services"][service]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ports("source-db"), ["5433:5432"]);
    assert_eq!(ports("target-db"), ["5434:5432"]);
    assert_eq!(ports("ferry"), ["8080:8080"]);
    assert_eq!(compose["services"]["source-db"]["environment"]["POSTGRES_DB"], "old_db");
    assert_eq!(compose["services"]["target-db"]["environment"]["POSTGRES_DB"], "new_db");
    let ferry = &compose["services"]["ferry"];
    assert_eq!(ferry["build"], ".");
    let environment = &ferry["environment"];
    assert!(environment["FERRY_SOURCE"].as_str().unwrap().ends_with("@source-db:5432/old_db"));
    assert!(environment["FERRY_TARGET"].as_str().unwrap().ends_with("@target-db:5432/new_db"));
    // The token must come from the user, never a default baked into the file.
    assert!(environment["FERRY_API_TOKEN"].as_str().unwrap().starts_with("${FERRY_API_TOKEN:?"));
}

#[test]
fn every_file_the_deployment_refers_to_exists() {
    let compose = compose();
    let volumes = compose["services"]["source-db"]["volumes"].as_sequence().unwrap();
    let init = volumes.iter().map(|v| v.as_str().unwrap()).find(|v| v.contains("docker-entrypoint-initdb.d")).unwrap();
    let local = init.split(':').next().unwrap();
    let sample = std::fs::read_to_string(repo().join(local)).unwrap();
    assert!(sample.contains("CREATE TABLE IF NOT EXISTS source_unnormalized"), "{local} holds the old schema");
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            assert!(repo().join(source).exists(), "the Dockerfile copies `{source}`, which does not exist");
        }
    }
    // The job the image serves reads the URLs compose sets.
    let job = std::fs::read_to_string(repo().join("ferry.toml")).unwrap();
    assert!(job.contains("${FERRY_SOURCE:-") && job.contains("${FERRY_TARGET:-"));
    assert!(dockerfile.contains("\"serve\""), "the image serves the API");
}
