//! Many-to-many: students attend many courses, courses have many students,
//! through the association table `students_courses`.
//!
//! Run with `cargo run --example many_to_many`.

use orm::prelude::*;

/// A course (table `courses`).
#[derive(Model, Debug)]
#[orm(table = "courses")]
struct Course {
    #[orm(primary_key)]
    id: i32,
    title: String,
    #[relationship(many_to_many, secondary = StudentCourse, back_populates = courses, order_by = Student::name)]
    students: Many<Student>,
}

/// A student (table `students`).
#[derive(Model, Debug)]
#[orm(table = "students")]
struct Student {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[relationship(many_to_many, secondary = StudentCourse, back_populates = students, order_by = Course::title)]
    courses: Many<Course>,
}

/// Who attends what (table `students_courses`).
#[derive(Model, Debug)]
#[orm(table = "students_courses")]
struct StudentCourse {
    #[orm(primary_key, foreign_key = Student::id)]
    student_id: i32,
    #[orm(primary_key, foreign_key = Course::id)]
    course_id: i32,
}

const TABLES: [&orm::TableMeta; 3] = [Course::TABLE, Student::TABLE, StudentCourse::TABLE];

#[tokio::main]
async fn main() -> orm::Result<()> {
    let engine = Engine::new(&orm::testing::example_database("orm_example_many_to_many").await?)?;
    engine.drop_all(&TABLES).await?;
    engine.create_all(&TABLES).await?;

    let mut session = engine.session();
    let algebra = session.add(Course::new("Algebra"));
    let biology = session.add(Course::new("Biology"));
    let chemistry = session.add(Course::new("Chemistry"));
    let ann = session.add(Student::new("Ann"));
    let ben = session.add(Student::new("Ben"));
    session.link(ann, Student::courses, algebra)?;
    session.link(ann, Student::courses, biology)?;
    session.link(ben, Student::courses, biology)?;
    session.link(chemistry, Course::students, ben)?;
    session.commit().await?;

    let mut session = engine.session();
    println!("### Courses and their students:");
    let courses =
        session.query::<Course>().order_by(Course::title.asc()).load(Course::students.selectin()).all().await?;
    for course in courses {
        let students: Vec<&str> =
            session.related(course, Course::students)?.iter().map(|&s| session[s].name.as_str()).collect();
        println!("{}: {}", session[course].title, students.join(", "));
    }
    println!();

    println!("### Students and their courses:");
    let students = session.query::<Student>().order_by(Student::name.asc()).all().await?;
    for &student in &students {
        let courses: Vec<String> =
            session.load(student, Student::courses).await?.iter().map(|&c| session[c].title.clone()).collect();
        println!("{}: {}", session[student].name, courses.join(", "));
    }
    Ok(())
}
