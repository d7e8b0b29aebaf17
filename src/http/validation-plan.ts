import { TransformationType } from 'class-transformer';
import type { MetadataStorage as TransformerMetadataStorage } from 'class-transformer/types/MetadataStorage';
import type { TransformFnParams } from 'class-transformer/types/interfaces';
import { getMetadataStorage, ValidationTypes, type ValidationArguments } from 'class-validator';
import type { Class } from './validation';

/*
 * A request class's decorators, read once and laid out as a plan the valid case can run cheaply:
 * per field, the @Transform functions (class-transformer) and the conditions and constraint
 * functions (class-validator), the very functions plainToInstance and validateSync call, in the
 * order they call them. The decorators stay the one source of the rules; only the walk over their
 * metadata, which those libraries redo for every request (it was most of a small read's
 * validation time), is done once here.
 */

// class-transformer has no public way to read its decorators' metadata; this is the store they write to.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const transformerMetadata = (require('class-transformer/cjs/storage') as { defaultMetadataStorage: TransformerMetadataStorage }).defaultMetadataStorage;

type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

interface Check {
  metadata: ValidationMetadata;
  validate: (value: unknown, args: ValidationArguments) => unknown;
}

interface FieldPlan {
  name: string;
  /** @Transform functions, in the order plainToInstance applies them. */
  transforms: Array<(params: TransformFnParams) => unknown>;
  /** ValidateIf conditions (Optional, OptionalOrNull, Nullable): all must hold for the checks to run. */
  conditions: Array<(object: object, value: unknown) => boolean>;
  checks: Check[];
}

export interface ValidationPlan {
  /** In the order validateSync checks them. */
  fields: FieldPlan[];
  byName: Map<string, FieldPlan>;
}

const plans = new WeakMap<Class, ValidationPlan | null>();

/** The plan of a class, or undefined when it uses a feature the plan does not cover (nested classes, `each`, @Expose…): validateInput then always takes the full path. */
export function validationPlan(cls: Class): ValidationPlan | undefined {
  let plan = plans.get(cls);
  if (plan === undefined) {
    plan = buildPlan(cls) ?? null;
    plans.set(cls, plan);
  }
  return plan ?? undefined;
}

const TRANSFORM_OPTIONS = { exposeDefaultValues: true };

/**
 * What plainToInstance(cls, fields, { exposeDefaultValues: true }) then validateSync make of
 * `fields` (declared fields only, scalar values, in the client's order) when every check passes;
 * undefined when one fails.
 */
export function instantiateIfValid<T extends object>(cls: Class<T>, plan: ValidationPlan, fields: Record<string, unknown>): T | undefined {
  const instance = new cls();
  const writable = instance as Record<string, unknown>;
  for (const name in fields) {
    let value = fields[name];
    for (const transform of plan.byName.get(name)!.transforms) {
      value = transform({ value, key: name, obj: fields, type: TransformationType.PLAIN_TO_CLASS, options: TRANSFORM_OPTIONS });
    }
    if (value !== undefined) writable[name] = value;
  }
  for (const field of plan.fields) {
    const value = writable[field.name];
    if (!field.conditions.every((condition) => condition(instance, value))) continue;
    for (const { metadata, validate } of field.checks) {
      if (metadata.validateIf && !metadata.validateIf(instance, value)) continue;
      if (!validate(value, { targetName: cls.name, property: field.name, object: instance, value, constraints: metadata.constraints })) return undefined;
    }
  }
  return instance;
}

function buildPlan(cls: Class): ValidationPlan | undefined {
  const storage = getMetadataStorage();
  // The arguments validateSync passes (no schema, no groups, `always` off).
  const metadata = storage.getTargetValidationMetadatas(cls, undefined as unknown as string, false, false, undefined);
  const covered = metadata.every(
    (entry) => (entry.type === ValidationTypes.CUSTOM_VALIDATION && !entry.each) || entry.type === ValidationTypes.CONDITIONAL_VALIDATION,
  );
  const strategy = transformerMetadata.getStrategy(cls);
  const reshaped =
    (strategy !== 'none' && strategy !== 'exposeAll') ||
    transformerMetadata.getExposedProperties(cls, TransformationType.PLAIN_TO_CLASS).length > 0 ||
    transformerMetadata.getExcludedProperties(cls, TransformationType.PLAIN_TO_CLASS).length > 0;
  if (!covered || reshaped) return undefined;

  const fields: FieldPlan[] = [];
  for (const [name, entries] of Object.entries(storage.groupByPropertyName(metadata))) {
    if (transformerMetadata.findTypeMetadata(cls, name)) return undefined;
    fields.push({
      name,
      transforms: transformerMetadata
        .findTransformMetadatas(cls, name, TransformationType.PLAIN_TO_CLASS)
        .filter((transform) => !transform.options?.groups?.length)
        .map((transform) => transform.transformFn),
      conditions: entries.filter((entry) => entry.type === ValidationTypes.CONDITIONAL_VALIDATION).map((entry) => entry.constraints[0]),
      checks: entries
        .filter((entry) => entry.type === ValidationTypes.CUSTOM_VALIDATION)
        .flatMap((entry) =>
          storage
            .getTargetValidatorConstraints(entry.constraintCls)
            // validateSync skips asynchronous constraints.
            .filter((constraint) => !constraint.async)
            .map((constraint) => {
              const instance = constraint.instance;
              return { metadata: entry, validate: (value: unknown, args: ValidationArguments) => instance.validate(value, args) };
            }),
        ),
    });
  }
  return { fields, byName: new Map(fields.map((field) => [field.name, field])) };
}
