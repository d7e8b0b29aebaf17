import type { MigrationInterface, QueryRunner } from 'typeorm';

/** users and tasks as in the SQLModel design (seed 004), plus soft delete and full-text search. */
export class InitialSchema1795459387000 implements MigrationInterface {
  name = 'InitialSchema1795459387000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE users (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        email varchar(255) NOT NULL,
        username varchar(100) NOT NULL,
        hashed_password text NOT NULL,
        is_active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz,
        CONSTRAINT users_pkey PRIMARY KEY (id)
      )`);
    await queryRunner.query(`
      CREATE TABLE tasks (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL,
        title varchar(200) NOT NULL,
        description text,
        completed boolean NOT NULL DEFAULT false,
        due_date timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz,
        CONSTRAINT tasks_pkey PRIMARY KEY (id),
        CONSTRAINT tasks_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      )`);

    await queryRunner.query('CREATE INDEX idx_tasks_user_id ON tasks (user_id)');
    await queryRunner.query('CREATE INDEX idx_tasks_completed ON tasks (completed)');
    await queryRunner.query('CREATE INDEX idx_tasks_due_date ON tasks (due_date) WHERE due_date IS NOT NULL');
    await queryRunner.query('CREATE UNIQUE INDEX idx_users_email ON users (lower(email)) WHERE deleted_at IS NULL');
    await queryRunner.query('CREATE UNIQUE INDEX idx_users_username ON users (lower(username)) WHERE deleted_at IS NULL');
    await queryRunner.query(
      "CREATE INDEX idx_tasks_search ON tasks USING gin (to_tsvector('english'::regconfig, (title::text || ' '::text) || coalesce(description, ''::text)))",
    );

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION update_updated_at_column()
      RETURNS TRIGGER AS $$
      BEGIN
          NEW.updated_at = NOW();
          RETURN NEW;
      END;
      $$ LANGUAGE plpgsql`);
    await queryRunner.query('CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()');
    await queryRunner.query('CREATE TRIGGER update_tasks_updated_at BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE tasks');
    await queryRunner.query('DROP TABLE users');
    await queryRunner.query('DROP FUNCTION update_updated_at_column()');
  }
}
