export class HealthStatus {
  status: 'ok';
}

export class ReadinessStatus {
  status: 'ok';
  database: 'ok';
}
