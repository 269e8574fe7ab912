mod common;
mod expected;
mod migrations;
