/**
 * The development data `npm run seed` loads. Natural keys make it idempotent: users by email,
 * tasks by (user, title). Due dates are days from the day of the first run.
 */
export interface SeedTask {
  title: string;
  description?: string;
  completed?: boolean;
  dueInDays?: number;
  trashed?: boolean;
}

export interface SeedUser {
  email: string;
  username: string;
  password: string;
  tasks: SeedTask[];
}

export const DEV_USERS: SeedUser[] = [
  {
    email: 'alice@example.com',
    username: 'alice',
    password: 'alice-password',
    tasks: [
      { title: 'Buy groceries', description: 'Milk, eggs, bread and coffee', dueInDays: 1 },
      { title: 'Write the quarterly report', description: 'Numbers from finance are in the shared folder', dueInDays: 7 },
      { title: 'Renew passport', dueInDays: -3 },
      { title: 'Book dentist appointment', completed: true, dueInDays: -10 },
      { title: 'Read "The Pragmatic Programmer"', description: 'Chapters 3 and 4' },
      { title: 'Call the plumber', description: 'Kitchen sink is leaking again', completed: true },
      { title: 'Plan the summer trip', description: 'Compare train and flight prices', dueInDays: 30 },
      { title: 'Old idea: learn the banjo', trashed: true },
    ],
  },
  {
    email: 'bob@example.com',
    username: 'bob',
    password: 'bob-password',
    tasks: [
      { title: 'Fix the bike', description: 'Rear brake pads', dueInDays: 2 },
      { title: 'Pay electricity bill', dueInDays: -1 },
      { title: 'Send the invoice to ACME', completed: true, dueInDays: -5 },
      { title: 'Running shoes', description: 'Try them on before buying' },
      { title: 'Clean the garage', trashed: true, dueInDays: -20 },
    ],
  },
  {
    email: 'carol@example.com',
    username: 'carol',
    password: 'carol-password',
    tasks: [],
  },
];
