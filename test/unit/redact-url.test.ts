import { redactUrl } from '../../src/db/data-source';

describe('the database log line', () => {
  it('masks the password of DATABASE_URL', () => {
    expect(redactUrl('postgres://todo:s3cret@db.example:5432/todo')).toBe('postgres://todo:***@db.example:5432/todo');
    expect(redactUrl('postgres://todo@db.example/todo')).toBe('postgres://todo@db.example/todo');
  });
});
