import { Equals } from 'class-validator';

export class HealthStatus {
  @Equals('ok')
  status: 'ok';
}

export class ReadinessStatus {
  @Equals('ok')
  status: 'ok';

  @Equals('ok')
  database: 'ok';
}
