//! `new` takes primitive numbers by value, so that integer and float literals
//! infer for `i16` and `f32` fields; other types go through `Into`.

use orm::prelude::*;

#[derive(Model, Debug)]
pub struct Reading {
    #[orm(primary_key)]
    pub id: i64,
    pub sensor: i16,
    pub value: f32,
    pub ok: bool,
    pub label: Option<String>,
    pub offset: Option<i16>,
}

fn main() {
    let reading = Reading::new(7, 1.5, true, Some("north".to_owned()), 3);
    assert_eq!((reading.id, reading.sensor, reading.value, reading.ok), (0, 7, 1.5, true));
    assert_eq!((reading.label.as_deref(), reading.offset), (Some("north"), Some(3)));
    let reading = Reading::new(-1, 0.0, false, None, None);
    assert_eq!(reading.label, None);
    let _ = Reading::sensor.eq(7i16);
}
