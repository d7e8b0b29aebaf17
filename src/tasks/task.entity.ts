import { Column, CreateDateColumn, DeleteDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { User } from '../users/user.entity';

/**
 * SQLModel `Task` of the design, plus soft delete. Partial, expression, covering and GIN indexes are
 * written by hand in migrations (TypeORM cannot express them) and marked `synchronize: false` here.
 */
@Entity({ name: 'tasks' })
@Index('idx_tasks_completed', ['completed'])
@Index('idx_tasks_due_date', { synchronize: false })
@Index('idx_tasks_search', { synchronize: false })
@Index('idx_tasks_user_created_at', { synchronize: false })
@Index('idx_tasks_user_updated_at', { synchronize: false })
@Index('idx_tasks_user_due_date', { synchronize: false })
@Index('idx_tasks_user_title', { synchronize: false })
@Index('idx_tasks_user_trash', { synchronize: false })
export class Task {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'tasks_pkey' })
  id: string;

  @Index('idx_tasks_user_id')
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne('User', (user: User) => user.tasks, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'tasks_user_id_fkey' })
  user: User;

  @Column({ name: 'title', type: 'varchar', length: 200 })
  title: string;

  @Column({ name: 'description', type: 'text', nullable: true })
  description: string | null;

  @Column({ name: 'completed', type: 'boolean', default: false })
  completed: boolean;

  @Column({ name: 'due_date', type: 'timestamptz', nullable: true })
  dueDate: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;

  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' })
  deletedAt: Date | null;
}
