//! One-to-many: a project manager leads many projects; each project has one
//! manager (the foreign key is on `projects`).
//!
//! Run with `cargo run --example one_to_many`.

use orm::prelude::*;

/// A project manager (table `project_managers`).
#[derive(Model, Debug)]
#[orm(table = "project_managers")]
struct ProjectManager {
    #[orm(primary_key)]
    id: i32,
    name: String,
    /// The projects this manager leads, sorted by name.
    #[relationship(one_to_many, back_populates = manager, order_by = Project::name)]
    projects: Many<Project>,
}

/// A project (table `projects`).
#[derive(Model, Debug)]
#[orm(table = "projects")]
struct Project {
    #[orm(primary_key)]
    id: i32,
    name: String,
    #[orm(foreign_key = ProjectManager::id)]
    manager_id: Option<i32>,
    #[relationship(many_to_one, back_populates = projects)]
    manager: One<ProjectManager>,
}

const TABLES: [&orm::TableMeta; 2] = [ProjectManager::TABLE, Project::TABLE];

#[tokio::main]
async fn main() -> orm::Result<()> {
    let engine = Engine::new(&orm::testing::example_database("orm_example_one_to_many").await?)?;
    engine.drop_all(&TABLES).await?;
    engine.create_all(&TABLES).await?;

    let mut session = engine.session();
    let grace = session.add(ProjectManager::new("Grace Hopper"));
    for name in ["COBOL", "FLOW-MATIC", "A-0"] {
        let project = session.add(Project::new(name, None));
        session.link(grace, ProjectManager::projects, project)?;
    }
    session.commit().await?;

    // A fresh session: nothing is loaded until asked for.
    let mut session = engine.session();
    let grace = session.query::<ProjectManager>().one().await?;
    println!("### {} leads:", session[grace].name);
    for project in session.load(grace, ProjectManager::projects).await? {
        println!("{}", session[project].name);
    }
    println!();

    println!("### Each project's manager:");
    let projects =
        session.query::<Project>().order_by(Project::id.asc()).load(Project::manager.selectin()).all().await?;
    for project in projects {
        if let Some(manager) = session.related(project, Project::manager)? {
            println!("{} is led by {}", session[project].name, session[manager].name);
        }
    }
    Ok(())
}
